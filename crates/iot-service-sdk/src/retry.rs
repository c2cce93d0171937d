//! [`RetryPolicy`]: bounded exponential backoff with jitter, and the loop that applies it.

use std::future::Future;
use std::time::Duration;

use crate::ServiceError;

/// How often and how patiently the client retries a request that failed for a passing reason.
///
/// Only requests that are safe to repeat are retried: reads, `PUT` with `If-Match`, deletes
/// and queries retry on throttling (429), server errors (500, 502, 503, 504) and connection
/// failures; other writes (creating a device, patching a twin) retry only when the connection
/// failed before the request was sent; direct-method calls never retry. Nothing else is ever
/// repeated behind the caller's back.
///
/// The wait before retry `n` (from 0) is drawn uniformly from `[b/2, b]` where
/// `b = min(max_backoff, initial_backoff × 2ⁿ)` ("equal jitter": clients that failed together
/// spread out, yet each waits at least half the backoff). When the hub sends `Retry-After`, the
/// wait is at least that long; if it asks for more than `max_backoff`, the client gives up and
/// returns [`ServiceError::Throttled`] with the hub's advice instead of waiting.
///
/// ```
/// use std::time::Duration;
/// use iot_service_sdk::RetryPolicy;
///
/// let policy = RetryPolicy::new(3, Duration::from_millis(100), Duration::from_secs(2))?;
/// assert_eq!(policy.backoff(0, 1.0), Duration::from_millis(100));
/// assert_eq!(policy.backoff(2, 0.0), Duration::from_millis(200));
/// assert_eq!(policy.backoff(9, 1.0), Duration::from_secs(2));
/// assert!(RetryPolicy::new(3, Duration::from_secs(5), Duration::from_secs(1)).is_err());
/// # Ok::<(), iot_service_sdk::ServiceError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl RetryPolicy {
    /// The most retries a policy may allow.
    pub const MAX_RETRIES: u32 = 10;
    /// The shortest initial backoff a policy may have.
    pub const MIN_BACKOFF: Duration = Duration::from_millis(1);
    /// The longest backoff a policy may have.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

    /// A policy of up to `max_retries` retries, backing off from `initial_backoff` up to
    /// `max_backoff`.
    ///
    /// # Errors
    /// [`ServiceError::Configuration`] unless `max_retries` ≤ [`Self::MAX_RETRIES`] and
    /// [`Self::MIN_BACKOFF`] ≤ `initial_backoff` ≤ `max_backoff` ≤ [`Self::MAX_BACKOFF`].
    pub fn new(
        max_retries: u32,
        initial_backoff: Duration,
        max_backoff: Duration,
    ) -> Result<Self, ServiceError> {
        let invalid = |reason: String| ServiceError::config("retry policy", reason);
        if max_retries > Self::MAX_RETRIES {
            return Err(invalid(format!(
                "at most {} retries, not {max_retries}",
                Self::MAX_RETRIES
            )));
        }
        if initial_backoff < Self::MIN_BACKOFF || initial_backoff > max_backoff {
            return Err(invalid(format!(
                "the initial backoff must be between {:?} and the maximum backoff ({max_backoff:?}), not {initial_backoff:?}",
                Self::MIN_BACKOFF
            )));
        }
        if max_backoff > Self::MAX_BACKOFF {
            return Err(invalid(format!(
                "the maximum backoff must be at most {:?}, not {max_backoff:?}",
                Self::MAX_BACKOFF
            )));
        }
        Ok(Self {
            max_retries,
            initial_backoff,
            max_backoff,
        })
    }

    /// A policy that never retries.
    pub const fn never() -> Self {
        Self {
            max_retries: 0,
            initial_backoff: Self::MIN_BACKOFF,
            max_backoff: Self::MIN_BACKOFF,
        }
    }

    /// The most retries after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The backoff before the first retry, before jitter.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The longest backoff.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The wait before retry `retry` (0 for the first), given `jitter` in `[0, 1]` (values
    /// outside are clamped, NaN counts as 0): `b/2 + jitter × b/2` with
    /// `b = min(max_backoff, initial_backoff × 2^retry)`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let base = 2u32
            .checked_pow(retry)
            .and_then(|factor| self.initial_backoff.checked_mul(factor))
            .map_or(self.max_backoff, |backoff| backoff.min(self.max_backoff));
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let half = base / 2;
        half + (base - half).mul_f64(jitter)
    }

    /// The wait before retry `retry`, or `None` when the policy gives up: after
    /// `max_retries`, or when the hub asks to wait longer than `max_backoff`.
    pub(crate) fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let backoff = self.backoff(retry, jitter);
        match retry_after {
            Some(advice) if advice > self.max_backoff => None,
            Some(advice) => Some(backoff.max(advice)),
            None => Some(backoff),
        }
    }
}

impl Default for RetryPolicy {
    /// Up to 4 retries, backing off from 200 ms up to 10 s.
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Which failures of a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Safe to repeat: retry throttling, server errors and connection failures.
    Idempotent,
    /// Not safe to repeat once sent: retry only connection failures (nothing was sent).
    UnlessSent,
    /// Never retry.
    Never,
}

impl Retry {
    /// Whether `error` may be retried for a request of this kind.
    pub(crate) fn allows(self, error: &ServiceError) -> bool {
        match error {
            ServiceError::Connect { .. } => self != Self::Never,
            ServiceError::Throttled { .. } | ServiceError::Server { status: 500, .. } => {
                self == Self::Idempotent
            }
            ServiceError::Server { status, .. } => {
                self == Self::Idempotent && matches!(status, 502..=504)
            }
            _ => false,
        }
    }
}

/// Runs `attempt` until it succeeds, fails in a way `retry` does not allow, or `policy` gives
/// up; waits between attempts as the policy says. Returns the last error.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    retry: Retry,
    mut attempt: F,
) -> Result<T, ServiceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    let mut retries = 0;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let delay = retry
            .allows(&error)
            .then(|| policy.delay(retries, error.retry_after(), rand::random()))
            .flatten();
        let Some(delay) = delay else {
            return Err(error);
        };
        tracing::debug!(retry = retries + 1, ?delay, %error, "retrying");
        tokio::time::sleep(delay).await;
        retries += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use proptest::prelude::*;

    fn server(status: u16) -> ServiceError {
        ServiceError::Server {
            status,
            code: None,
            message: String::new(),
        }
    }

    fn throttled(retry_after: Option<Duration>) -> ServiceError {
        ServiceError::Throttled {
            retry_after,
            code: None,
            message: String::new(),
        }
    }

    fn connect() -> ServiceError {
        ServiceError::Connect {
            endpoint: "https://h".into(),
            detail: "refused".into(),
        }
    }

    #[test]
    fn validation_names_the_rule() {
        let ms = Duration::from_millis;
        assert!(RetryPolicy::new(11, ms(1), ms(1)).is_err());
        assert!(RetryPolicy::new(1, Duration::ZERO, ms(1)).is_err());
        assert!(RetryPolicy::new(1, ms(2), ms(1)).is_err());
        let error = RetryPolicy::new(1, ms(1), Duration::from_secs(301)).unwrap_err();
        assert!(error.to_string().contains("maximum backoff"), "{error}");
        assert!(RetryPolicy::new(10, ms(1), Duration::from_secs(300)).is_ok());
        assert_eq!(RetryPolicy::never().delay(0, None, 0.5), None);
        let default = RetryPolicy::default();
        let rebuilt = RetryPolicy::new(
            default.max_retries(),
            default.initial_backoff(),
            default.max_backoff(),
        );
        assert_eq!(rebuilt.unwrap(), default);
    }

    #[test]
    fn retry_after_raises_the_wait_or_ends_the_retries() {
        let policy =
            RetryPolicy::new(3, Duration::from_millis(10), Duration::from_secs(5)).unwrap();
        let advice = Some(Duration::from_secs(2));
        assert_eq!(policy.delay(0, advice, 1.0), advice);
        assert_eq!(policy.delay(0, Some(Duration::from_secs(6)), 1.0), None);
        assert_eq!(policy.delay(3, None, 1.0), None);
    }

    #[test]
    fn which_failures_retry() {
        let retryable = [server(500), server(503), throttled(None), connect()];
        for error in &retryable {
            assert!(Retry::Idempotent.allows(error), "{error}");
            assert!(!Retry::Never.allows(error), "{error}");
        }
        for error in [server(501), server(505), ServiceError::protocol("x")] {
            assert!(!Retry::Idempotent.allows(&error), "{error}");
        }
        assert!(Retry::UnlessSent.allows(&connect()));
        assert!(!Retry::UnlessSent.allows(&server(503)));
        let timeout = ServiceError::RequestTimeout {
            after: Duration::from_secs(1),
        };
        assert!(!Retry::Idempotent.allows(&timeout));
    }

    async fn attempts_until(policy: RetryPolicy, retry: Retry, failures: u32) -> (u32, bool) {
        let calls = AtomicU32::new(0);
        let result = with_retries(&policy, retry, || {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if call < failures {
                    Err(server(503))
                } else {
                    Ok(call)
                }
            }
        })
        .await;
        (calls.load(Ordering::SeqCst), result.is_ok())
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_stops_at_success_or_after_the_last_retry() {
        let policy =
            RetryPolicy::new(3, Duration::from_millis(50), Duration::from_secs(1)).unwrap();
        assert_eq!(
            attempts_until(policy, Retry::Idempotent, 2).await,
            (3, true)
        );
        assert_eq!(
            attempts_until(policy, Retry::Idempotent, 9).await,
            (4, false)
        );
        assert_eq!(
            attempts_until(policy, Retry::UnlessSent, 9).await,
            (1, false)
        );
        assert_eq!(
            attempts_until(RetryPolicy::never(), Retry::Idempotent, 9).await,
            (1, false)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_waits_the_backoff() {
        let policy = RetryPolicy::new(2, Duration::from_secs(1), Duration::from_secs(4)).unwrap();
        let start = tokio::time::Instant::now();
        assert_eq!(
            attempts_until(policy, Retry::Idempotent, 9).await,
            (3, false)
        );
        let waited = start.elapsed();
        // Retry 0 waits 0.5-1 s, retry 1 waits 1-2 s (paused time advances exactly).
        assert!(waited >= Duration::from_millis(1500) && waited <= Duration::from_secs(3));
    }

    fn policy() -> impl Strategy<Value = RetryPolicy> {
        (0..=RetryPolicy::MAX_RETRIES, 1u64..=300_000, 1u64..=300_000).prop_map(|(n, a, b)| {
            let (low, high) = (a.min(b), a.max(b));
            RetryPolicy::new(n, Duration::from_millis(low), Duration::from_millis(high)).unwrap()
        })
    }

    proptest! {
        #[test]
        fn backoff_stays_within_its_bounds(policy in policy(), retry in any::<u32>(), jitter in -1.0f64..2.0) {
            let wait = policy.backoff(retry, jitter);
            let base = policy.initial_backoff().saturating_mul(2u32.saturating_pow(retry)).min(policy.max_backoff());
            prop_assert!(wait <= policy.max_backoff());
            prop_assert!(wait <= base);
            prop_assert!(wait >= base / 2);
            prop_assert!(wait >= policy.initial_backoff() / 2);
        }

        #[test]
        fn backoff_grows_with_the_retry(policy in policy(), retry in 0u32..64, jitter in 0.0f64..=1.0) {
            prop_assert!(policy.backoff(retry, jitter) <= policy.backoff(retry + 1, jitter));
            prop_assert!(policy.backoff(retry, 0.0) <= policy.backoff(retry, jitter));
            prop_assert!(policy.backoff(retry, jitter) <= policy.backoff(retry, 1.0));
        }

        #[test]
        fn delays_are_bounded_and_end(policy in policy(), retry in 0u32..32, advice in proptest::option::of(0u64..400_000)) {
            let advice = advice.map(Duration::from_millis);
            match policy.delay(retry, advice, 0.5) {
                Some(delay) => {
                    prop_assert!(retry < policy.max_retries());
                    prop_assert!(delay <= policy.max_backoff());
                    prop_assert!(advice.is_none_or(|a| delay >= a));
                }
                None => prop_assert!(retry >= policy.max_retries() || advice > Some(policy.max_backoff())),
            }
        }

        #[test]
        fn new_accepts_exactly_the_documented_range(n in 0u32..20, a in 0u64..400_000, b in 0u64..400_000) {
            let (a, b) = (Duration::from_millis(a), Duration::from_millis(b));
            let valid = n <= RetryPolicy::MAX_RETRIES
                && a >= RetryPolicy::MIN_BACKOFF
                && a <= b
                && b <= RetryPolicy::MAX_BACKOFF;
            prop_assert_eq!(RetryPolicy::new(n, a, b).is_ok(), valid);
        }
    }
}
