//! [`DesiredConfiguration`]: the configuration pattern. A section of desired properties is
//! applied by the application and its status reported back; [`ConfigurationHandle`] follows
//! the helper.

mod watcher;

use std::fmt::Display;
use std::future::Future;

use iot_protocol::patterns::ConfigurationStatus;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::path::PropertyPath;
use crate::{DeviceClient, Error};

/// The configuration pattern for one section of desired properties (`firmware`, or any path
/// the application names, such as `settings.telemetry`).
///
/// [`DesiredConfiguration::spawn`] starts a task, driven by the client's stream of desired
/// changes ([`DeviceClient::desired_changes`]), that calls the application's `apply` callback
/// with the section's content whenever it changes, and reports a [`ConfigurationStatus`]
/// under the reported path (the same path unless [`DesiredConfiguration::reported_path`] says
/// otherwise):
///
/// ```json
/// {"firmware": {"status": "applied", "desiredVersion": 7, "message": null}}
/// ```
///
/// - `status` is `applying` while the callback runs, then `applied`, or `error` with the
///   callback's error in `message`. A change that arrives while an older one is being applied
///   is reported `pending` and applied next; the older one's outcome is then not reported, and
///   intermediate changes are skipped: only the latest content is ever applied after the
///   current one.
/// - `desiredVersion` is the desired `$version` the status is about. When desired properties
///   change elsewhere and the section stays as it is, only `desiredVersion` moves on, so a
///   back end can tell a device that has caught up (`desiredVersion` equal to the twin's
///   `properties.desired.$version`) from one that has not.
/// - Versions only move forward: the client's desired stream never goes back, across
///   reconnects too (the client reads the twin again and the stream yields the net change).
/// - On start, a section already reported `applied` at the current desired version is not
///   applied again. After a restart, content whose version moved on is applied again, since the
///   helper cannot know whether it changed: make `apply` idempotent.
/// - A section that is absent is not applied; the device keeps what it has.
///
/// ```no_run
/// use iot_device_sdk::DeviceClient;
/// use iot_device_sdk::patterns::{ApplyStatus, DesiredConfiguration};
///
/// # async fn run(client: DeviceClient) -> Result<(), iot_device_sdk::Error> {
/// let mut firmware = DesiredConfiguration::new("firmware").spawn(&client, |wanted| async move {
///     let version = wanted["version"].as_str().ok_or("no version")?.to_owned();
///     // Download, verify and install `version` here.
///     Ok::<(), String>(())
/// })?;
/// let status = firmware.wait_for(|s| s.status == ApplyStatus::Applied).await?;
/// println!("firmware applied at desired version {}", status.desired_version);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DesiredConfiguration {
    desired: String,
    reported: Option<String>,
}

impl DesiredConfiguration {
    /// The pattern for the desired section at `path` (dotted: `firmware`, `settings.fan`),
    /// checked by [`Self::spawn`].
    pub fn new(path: &str) -> Self {
        Self {
            desired: path.to_owned(),
            reported: None,
        }
    }

    /// Reports under `path` instead of the desired section's own path.
    pub fn reported_path(mut self, path: &str) -> Self {
        self.reported = Some(path.to_owned());
        self
    }

    /// Starts the helper on `client`'s desired properties. It runs until the client stops or
    /// [`ConfigurationHandle::stop`] is called; dropping the handle leaves it running.
    ///
    /// # Errors
    /// [`Error::Config`] for a path that breaks the twin key rules; [`Error::NoRuntime`]
    /// outside a Tokio runtime.
    pub fn spawn<F, Fut, E>(
        &self,
        client: &DeviceClient,
        apply: F,
    ) -> Result<ConfigurationHandle, Error>
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + 'static,
    {
        let desired = PropertyPath::parse(&self.desired)?;
        let reported = match &self.reported {
            Some(path) => PropertyPath::parse(path)?,
            None => desired.clone(),
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (status, receiver) = watch::channel(None);
        let task = watcher::start(&runtime, client, desired, reported, apply, status);
        Ok(ConfigurationHandle {
            status: receiver,
            task,
        })
    }
}

/// A running [`DesiredConfiguration`] helper: its latest status, and a way to stop it.
#[derive(Debug)]
pub struct ConfigurationHandle {
    status: watch::Receiver<Option<ConfigurationStatus>>,
    task: JoinHandle<()>,
}

impl ConfigurationHandle {
    /// The latest status (`None` before the section was first seen).
    pub fn status(&self) -> Option<ConfigurationStatus> {
        self.status.borrow().clone()
    }

    /// Waits until the status satisfies `accept` (at once if it does) and returns it. There
    /// is no timeout: wrap the call in one.
    ///
    /// # Errors
    /// [`Error::Closed`] when the helper stopped first.
    pub async fn wait_for(
        &mut self,
        mut accept: impl FnMut(&ConfigurationStatus) -> bool,
    ) -> Result<ConfigurationStatus, Error> {
        let status = self
            .status
            .wait_for(|status| status.as_ref().is_some_and(&mut accept))
            .await
            .map_err(|_| Error::Closed)?;
        status.clone().ok_or(Error::Closed)
    }

    /// Stops the helper; an `apply` callback under way is dropped.
    pub fn stop(self) {
        self.task.abort();
    }
}
