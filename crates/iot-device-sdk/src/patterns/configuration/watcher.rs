//! The configuration helper's task: [`Tracker`] decides (a plain state machine, tested on its
//! own), the task feeds it desired changes and callback outcomes and carries out its steps.
//!
//! ```text
//!            new content                 outcome
//!   idle ───────────────▶ applying ───────────────▶ idle (applied | error)
//!                          │    ▲
//!              newer content│    │outcome: start the waiting content
//!                          ▼    │
//!                     applying + pending
//! ```

use std::fmt::Display;
use std::future::{Future, pending};
use std::pin::Pin;

use futures_util::StreamExt;
use iot_protocol::patterns::{ApplyStatus, ConfigurationStatus, DESIRED_VERSION};
use iot_twin::TwinVersion;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::patterns::path::PropertyPath;
use crate::{DesiredChanges, DeviceClient, Error, WeakDeviceClient};

/// What the tracker asks for.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// Report a status.
    Status(ConfigurationStatus),
    /// Report only that the status now concerns a newer desired version.
    Version(TwinVersion),
    /// Call the application's callback with this content.
    Apply(Value),
}

/// The helper's decisions, free of IO.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    /// Content last taken up (applied, or failed), so that unrelated changes do not apply it
    /// again.
    handled: Option<Value>,
    /// The content being applied and the version it is about.
    running: Option<(TwinVersion, Value)>,
    /// Newer content waiting for the running one, and its version.
    waiting: Option<(TwinVersion, Value)>,
    /// The latest status.
    current: Option<ConfigurationStatus>,
    /// The version the section was reported `applied` at before the helper started.
    resumed: Option<TwinVersion>,
}

impl Tracker {
    /// A tracker that knows the section was reported applied at `resumed` before.
    pub(super) fn new(resumed: Option<TwinVersion>) -> Self {
        Self {
            resumed,
            ..Self::default()
        }
    }

    /// The latest status.
    pub(super) fn current(&self) -> Option<ConfigurationStatus> {
        self.current.clone()
    }

    /// Desired properties moved to `version`, where the section holds `section`.
    pub(super) fn on_desired(&mut self, version: TwinVersion, section: Option<Value>) -> Vec<Step> {
        let Some(section) = section else {
            return Vec::new();
        };
        if self.resumed.take() == Some(version) && self.current.is_none() {
            self.handled = Some(section);
            self.current = Some(status(version, ApplyStatus::Applied, None));
            return Vec::new();
        }
        if self.target() == Some(&section) {
            return self.move_on(version);
        }
        if self.running.is_some() {
            self.waiting = Some((version, section));
            return vec![self.set(status(version, ApplyStatus::Pending, None))];
        }
        self.start(version, section)
    }

    /// The callback for the running content returned `outcome`.
    pub(super) fn on_outcome(&mut self, outcome: Result<(), String>) -> Vec<Step> {
        let Some((version, content)) = self.running.take() else {
            return Vec::new();
        };
        let waiting = self.waiting.take();
        self.handled = Some(content);
        match waiting {
            Some((next, section)) if self.handled.as_ref() != Some(&section) => {
                self.start(next, section)
            }
            Some((next, _)) => vec![self.finish(next, outcome)],
            None => vec![self.finish(version, outcome)],
        }
    }

    /// The content the device is heading for: waiting, else running, else handled.
    fn target(&self) -> Option<&Value> {
        self.waiting
            .as_ref()
            .or(self.running.as_ref())
            .map(|(_, content)| content)
            .or(self.handled.as_ref())
    }

    /// The section did not change: the status now concerns `version`.
    fn move_on(&mut self, version: TwinVersion) -> Vec<Step> {
        if let Some((at, _)) = self.waiting.as_mut().or(self.running.as_mut()) {
            *at = version;
        }
        match self.current.as_mut() {
            Some(current) if current.desired_version < version => {
                current.desired_version = version;
                vec![Step::Version(version)]
            }
            _ => Vec::new(),
        }
    }

    fn start(&mut self, version: TwinVersion, section: Value) -> Vec<Step> {
        self.running = Some((version, section.clone()));
        let applying = self.set(status(version, ApplyStatus::Applying, None));
        vec![applying, Step::Apply(section)]
    }

    fn finish(&mut self, version: TwinVersion, outcome: Result<(), String>) -> Step {
        let next = match outcome {
            Ok(()) => status(version, ApplyStatus::Applied, None),
            Err(message) => status(version, ApplyStatus::Error, Some(message)),
        };
        self.set(next)
    }

    fn set(&mut self, status: ConfigurationStatus) -> Step {
        self.current = Some(status.clone());
        Step::Status(status)
    }
}

fn status(
    version: TwinVersion,
    status: ApplyStatus,
    message: Option<String>,
) -> ConfigurationStatus {
    ConfigurationStatus {
        message,
        ..ConfigurationStatus::new(status, version)
    }
}

/// The reported patch for a step (`None` for [`Step::Apply`]).
pub(super) fn patch(reported: &PropertyPath, step: &Step) -> Option<Value> {
    let content = match step {
        Step::Status(status) => serde_json::to_value(status).ok()?,
        Step::Version(version) => json!({DESIRED_VERSION: version.get()}),
        Step::Apply(_) => return None,
    };
    Some(reported.nest(content))
}

/// A callback's outcome under way.
type Applying = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Everything the task holds.
struct Watcher<F> {
    client: WeakDeviceClient,
    desired: PropertyPath,
    reported: PropertyPath,
    apply: F,
    status: watch::Sender<Option<ConfigurationStatus>>,
    reports: mpsc::UnboundedSender<Value>,
}

/// Starts the helper's task and the task that sends its reports in order.
pub(super) fn start<F, Fut, E>(
    runtime: &Handle,
    client: &DeviceClient,
    desired: PropertyPath,
    reported: PropertyPath,
    apply: F,
    status: watch::Sender<Option<ConfigurationStatus>>,
) -> JoinHandle<()>
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + 'static,
{
    let (reports, queue) = mpsc::unbounded_channel();
    runtime.spawn(send_reports(client.downgrade(), queue));
    let watcher = Watcher {
        client: client.downgrade(),
        desired,
        reported,
        apply,
        status,
        reports,
    };
    runtime.spawn(watcher.run(client.desired_changes()))
}

impl<F, Fut, E> Watcher<F>
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + 'static,
{
    async fn run(self, mut changes: DesiredChanges) {
        let mut tracker = Tracker::new(self.resumed().await);
        let mut running: Option<Applying> = None;
        loop {
            let busy = running.is_some();
            let outcome = async {
                match running.as_mut() {
                    Some(applying) => applying.await,
                    None => pending().await,
                }
            };
            let steps = tokio::select! {
                update = changes.next() => match update {
                    Some(update) => {
                        let section = self.desired.find_in(update.properties().as_map()).cloned();
                        tracker.on_desired(update.version(), section)
                    }
                    None => return,
                },
                outcome = outcome, if busy => {
                    running = None;
                    tracker.on_outcome(outcome)
                }
            };
            for step in steps {
                running = self.carry_out(step).or(running);
            }
            let current = tracker.current();
            self.status.send_if_modified(|status| {
                let changed = *status != current;
                *status = current;
                changed
            });
        }
    }

    /// Reports a status step, or starts the callback for an apply step.
    fn carry_out(&self, step: Step) -> Option<Applying> {
        if let Step::Apply(content) = step {
            let work = (self.apply)(content);
            return Some(Box::pin(
                async move { work.await.map_err(|e| e.to_string()) },
            ));
        }
        if let Some(patch) = patch(&self.reported, &step) {
            // The sender lives as long as this task; the queue ends with it.
            let _ = self.reports.send(patch);
        }
        None
    }

    /// The desired version the section was reported `applied` at, read from the twin.
    async fn resumed(&self) -> Option<TwinVersion> {
        let client = self.client.upgrade()?;
        let twin = client.get_twin().await.ok()?;
        let section = self.reported.find_in(twin.reported().content())?;
        let reported = ConfigurationStatus::deserialize(section).ok()?;
        (reported.status == ApplyStatus::Applied).then_some(reported.desired_version)
    }
}

/// Sends the helper's reports one after the other, so they reach the hub in order.
async fn send_reports(client: WeakDeviceClient, mut queue: mpsc::UnboundedReceiver<Value>) {
    while let Some(patch) = queue.recv().await {
        let Some(client) = client.upgrade() else {
            return;
        };
        match client.report(&patch).await {
            Ok(_) => {}
            Err(Error::Closed) => return,
            Err(error) => tracing::warn!(%error, "cannot report a configuration status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u64) -> TwinVersion {
        TwinVersion::new(n).unwrap()
    }

    fn st(n: u64, status: ApplyStatus, message: Option<&str>) -> Step {
        Step::Status(ConfigurationStatus {
            message: message.map(str::to_owned),
            ..ConfigurationStatus::new(status, v(n))
        })
    }

    #[test]
    fn new_content_is_applied_then_reported() {
        let mut tracker = Tracker::new(None);
        assert_eq!(
            tracker.on_desired(v(2), Some(json!({"fw": 1}))),
            [
                st(2, ApplyStatus::Applying, None),
                Step::Apply(json!({"fw": 1}))
            ]
        );
        assert_eq!(
            tracker.on_outcome(Ok(())),
            [st(2, ApplyStatus::Applied, None)]
        );
        assert_eq!(tracker.current().unwrap().status, ApplyStatus::Applied);
    }

    #[test]
    fn unrelated_changes_only_move_the_version() {
        let mut tracker = Tracker::new(None);
        tracker.on_desired(v(2), Some(json!(1)));
        tracker.on_outcome(Err("no space".into()));
        assert_eq!(
            tracker.on_desired(v(3), Some(json!(1))),
            [Step::Version(v(3))]
        );
        let current = tracker.current().unwrap();
        assert_eq!(
            (
                current.desired_version,
                current.status,
                current.message.as_deref()
            ),
            (v(3), ApplyStatus::Error, Some("no space"))
        );
        assert_eq!(tracker.on_desired(v(3), Some(json!(1))), []);
        assert_eq!(tracker.on_desired(v(4), None), []);
    }

    #[test]
    fn changes_during_an_apply_wait_and_only_the_latest_runs() {
        let mut tracker = Tracker::new(None);
        tracker.on_desired(v(2), Some(json!("a")));
        assert_eq!(
            tracker.on_desired(v(3), Some(json!("b"))),
            [st(3, ApplyStatus::Pending, None)]
        );
        assert_eq!(
            tracker.on_desired(v(4), Some(json!("c"))),
            [st(4, ApplyStatus::Pending, None)]
        );
        assert_eq!(
            tracker.on_desired(v(5), Some(json!("c"))),
            [Step::Version(v(5))]
        );
        // "a" is done; its outcome is stale, and "c" is applied next at version 5.
        assert_eq!(
            tracker.on_outcome(Err("ignored".into())),
            [st(5, ApplyStatus::Applying, None), Step::Apply(json!("c"))]
        );
        assert_eq!(
            tracker.on_outcome(Ok(())),
            [st(5, ApplyStatus::Applied, None)]
        );
    }

    #[test]
    fn going_back_to_the_running_content_finishes_it_at_the_new_version() {
        let mut tracker = Tracker::new(None);
        tracker.on_desired(v(2), Some(json!("a")));
        tracker.on_desired(v(3), Some(json!("b")));
        tracker.on_desired(v(4), Some(json!("a")));
        assert_eq!(
            tracker.on_outcome(Ok(())),
            [st(4, ApplyStatus::Applied, None)]
        );
    }

    #[test]
    fn a_section_applied_before_a_restart_is_not_applied_again() {
        let mut tracker = Tracker::new(Some(v(7)));
        assert_eq!(tracker.on_desired(v(7), Some(json!("a"))), []);
        assert_eq!(tracker.current().unwrap().status, ApplyStatus::Applied);
        assert_eq!(
            tracker.on_desired(v(8), Some(json!("a"))),
            [Step::Version(v(8))]
        );

        let mut moved_on = Tracker::new(Some(v(7)));
        assert_eq!(
            moved_on.on_desired(v(9), Some(json!("a"))),
            [st(9, ApplyStatus::Applying, None), Step::Apply(json!("a"))]
        );
    }

    #[test]
    fn outcomes_without_a_run_change_nothing() {
        let mut tracker = Tracker::new(None);
        assert_eq!(tracker.on_outcome(Ok(())), []);
        assert_eq!(tracker.current(), None);
    }

    #[test]
    fn patches_nest_under_the_reported_path() {
        let path = PropertyPath::parse("firmware").unwrap();
        assert_eq!(
            patch(&path, &st(3, ApplyStatus::Error, Some("bad image"))),
            Some(
                json!({"firmware": {"status": "error", "desiredVersion": 3, "message": "bad image"}})
            )
        );
        assert_eq!(
            patch(&path, &Step::Version(v(4))),
            Some(json!({"firmware": {"desiredVersion": 4}}))
        );
        assert_eq!(patch(&path, &Step::Apply(json!(1))), None);
    }
}
