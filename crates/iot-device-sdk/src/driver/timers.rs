//! [`Timers`]: the deadlines of operations and requests, soonest first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::time::Duration;

use iot_twin::{RequestId, Ticket};
use tokio::time::Instant;

use crate::RetryPolicy;

/// What a deadline is for. A timer whose operation has already finished is simply ignored
/// when it fires, so nothing is ever removed from the heap early.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// The deadline of telemetry operation `id`.
    Telemetry(u64),
    /// The deadline of a reported-properties update.
    Ticket(Ticket),
    /// The deadline of twin read `id`.
    Get(u64),
    /// The answer to the desired-properties `GET` with this request id is overdue.
    DesiredGet(RequestId),
    /// The answer to the reported patch with this request id is overdue.
    ReportedPatch(RequestId),
    /// Something held back until now may go.
    Wake,
}

/// The pending deadlines.
#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    /// Adds a deadline.
    pub(super) fn push(&mut self, at: Instant, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    /// The soonest deadline.
    pub(super) fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes a deadline that has passed by `now`, soonest first.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, timer))| timer)
    }
}

/// The time-related context of one step of the driver: the current time, the operation
/// timeout, the retry policy and the timers to add to.
#[derive(Debug)]
pub(super) struct Clock<'a> {
    pub(super) now: Instant,
    pub(super) timeout: Duration,
    pub(super) policy: &'a RetryPolicy,
    pub(super) timers: &'a mut Timers,
}

impl Clock<'_> {
    /// When retry `attempt` may go, with a timer to wake the driver then.
    pub(super) fn backoff(&mut self, attempt: u32) -> Instant {
        let at = self.now + self.policy.random_delay(attempt);
        self.timers.push(at, Timer::Wake);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fires_in_deadline_order_once_due() {
        let start = Instant::now();
        let mut timers = Timers::default();
        timers.push(start + Duration::from_secs(3), Timer::Get(3));
        timers.push(start + Duration::from_secs(1), Timer::Telemetry(1));
        timers.push(start + Duration::from_secs(2), Timer::Wake);
        assert_eq!(timers.next_at(), Some(start + Duration::from_secs(1)));
        assert_eq!(timers.pop_due(start), None);
        let later = start + Duration::from_secs(2);
        assert_eq!(timers.pop_due(later), Some(Timer::Telemetry(1)));
        assert_eq!(timers.pop_due(later), Some(Timer::Wake));
        assert_eq!(timers.pop_due(later), None);
        assert_eq!(timers.next_at(), Some(start + Duration::from_secs(3)));
    }
}
