//! The jobs supervisor: starts a task per job (at the hub's start for every unfinished job,
//! then for each job created), prunes finished jobs after their retention, and waits for every
//! task when the hub stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::runner::JobTask;
use crate::core::{Core, now};

/// How often finished jobs are checked against their retention.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Runs until the hub stops, then waits for the job tasks (which stop too).
pub(crate) async fn run(core: Arc<Core>, mut stop: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        for id in core.jobs.take_to_start() {
            if let Some(task) = JobTask::new(Arc::clone(&core), &id, stop.clone()) {
                tasks.spawn(task.run());
            }
        }
        tokio::select! {
            () = core.jobs.wake.notified() => {}
            _ = prune.tick() => prune_jobs(&core).await,
            Some(_) = tasks.join_next() => {}
            _ = stop.changed() => break,
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Deletes the jobs that ended longer than the retention ago.
async fn prune_jobs(core: &Core) {
    let Some(cutoff) = now().checked_sub(core.settings.job_retention) else {
        return;
    };
    match core.jobs.prune(&core.store, cutoff).await {
        Ok(0) => {}
        Ok(pruned) => tracing::info!(pruned, "finished jobs past their retention deleted"),
        Err(error) => tracing::warn!(%error, "finished jobs could not be pruned"),
    }
}
