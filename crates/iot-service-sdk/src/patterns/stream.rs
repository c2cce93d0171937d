//! [`ProgressStream`]: snapshots of an operation's progress as a stream, a round of queries per
//! interval until the operation is done or the deadline passes.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use tokio::time::Instant as TokioInstant;

use super::progress::Compiled;
use super::snapshot::{ProgressOutcome, ProgressSnapshot, assemble};
use crate::{ServiceClient, ServiceError};

type Round = Pin<Box<dyn Future<Output = Result<ProgressSnapshot, ServiceError>> + Send>>;

/// Snapshots of an operation's progress, from [`crate::patterns::ProgressQuery::follow`] and
/// the pattern handles.
///
/// A round of twin queries runs every interval; a snapshot is yielded for the first round and
/// whenever the counts or failures change. The last snapshot has its
/// [`ProgressSnapshot::outcome`] set: [`ProgressOutcome::Finished`] once every targeted device
/// succeeded or failed, [`ProgressOutcome::DeadlinePassed`] when the deadline came first; then
/// the stream ends. A failed round is yielded as an error; the stream goes on after errors
/// that may pass (throttling, a hub restarting) and ends after others.
pub struct ProgressStream {
    client: ServiceClient,
    compiled: Arc<Compiled>,
    interval: Duration,
    started: TokioInstant,
    deadline: TokioInstant,
    round: Option<Round>,
    next_round: TokioInstant,
    shown: Option<ProgressSnapshot>,
    ended: bool,
}

impl ProgressStream {
    pub(crate) fn new(
        client: ServiceClient,
        compiled: Compiled,
        interval: Duration,
        deadline: Instant,
    ) -> Self {
        let started = TokioInstant::now();
        Self {
            client,
            compiled: Arc::new(compiled),
            interval,
            started,
            deadline: TokioInstant::from_std(deadline),
            round: None,
            next_round: started,
            shown: None,
            ended: false,
        }
    }

    /// The next snapshot worth showing, or `None` after the last.
    pub async fn next(&mut self) -> Option<Result<ProgressSnapshot, ServiceError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Follows the operation to its end and returns the last snapshot (its `outcome` says
    /// whether it finished or the deadline passed).
    ///
    /// # Errors
    /// The first error that ends the stream; an error that may pass is returned only when no
    /// snapshot follows it.
    pub async fn last(mut self) -> Result<ProgressSnapshot, ServiceError> {
        let mut last = Err(ServiceError::protocol("no progress was read"));
        while let Some(item) = self.next().await {
            match item {
                Ok(snapshot) => last = Ok(snapshot),
                Err(error) if error.is_retryable() => last = last.or(Err(error)),
                Err(error) => return Err(error),
            }
        }
        last
    }

    /// A round of queries at `at`, and its snapshot.
    fn make_round(&self, at: TokioInstant) -> Round {
        let client = self.client.clone();
        let compiled = Arc::clone(&self.compiled);
        let (started, deadline) = (self.started, self.deadline);
        Box::pin(async move {
            tokio::time::sleep_until(at).await;
            let findings = compiled.run(&client).await?;
            let now = TokioInstant::now();
            let mut snapshot = assemble(
                findings,
                &compiled.succeeded,
                &compiled.failed,
                now.duration_since(started),
            );
            if snapshot.is_done() {
                snapshot.outcome = Some(ProgressOutcome::Finished);
            } else if now >= deadline {
                snapshot.outcome = Some(ProgressOutcome::DeadlinePassed);
            }
            Ok(snapshot)
        })
    }

    /// What to do with a round's result: `Some` to yield it.
    fn settle(
        &mut self,
        result: Result<ProgressSnapshot, ServiceError>,
    ) -> Option<Result<ProgressSnapshot, ServiceError>> {
        let now = TokioInstant::now();
        self.next_round = (now + self.interval).min(self.deadline);
        match result {
            Ok(snapshot) => {
                self.ended = snapshot.outcome.is_some();
                let fresh = self
                    .shown
                    .as_ref()
                    .is_none_or(|s| !s.same_counts(&snapshot));
                self.shown = Some(snapshot.clone());
                (fresh || self.ended).then_some(Ok(snapshot))
            }
            Err(error) => {
                self.ended = !error.is_retryable() || now >= self.deadline;
                Some(Err(error))
            }
        }
    }
}

impl Stream for ProgressStream {
    type Item = Result<ProgressSnapshot, ServiceError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if this.round.is_none() {
                this.round = Some(this.make_round(this.next_round));
            }
            let Some(round) = this.round.as_mut() else {
                return Poll::Ready(None);
            };
            let Poll::Ready(result) = round.as_mut().poll(cx) else {
                return Poll::Pending;
            };
            this.round = None;
            if let Some(item) = this.settle(result) {
                return Poll::Ready(Some(item));
            }
        }
    }
}

impl fmt::Debug for ProgressStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgressStream")
            .field("interval", &self.interval)
            .field("shown", &self.shown)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
