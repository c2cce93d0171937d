//! [`RetryPolicy`]: bounded exponential backoff with jitter.

use std::time::Duration;

use crate::ConfigError;

/// How long the client waits before retrying: exponential backoff, bounded, with jitter.
///
/// Retry `n` (counting from 0) waits `base(n) × (1 − jitter × r)`, where
/// `base(n) = min(max_delay, initial_delay × multiplierⁿ)` and `r` is drawn uniformly from
/// `[0, 1)`. Every delay therefore lies in `[initial_delay × (1 − jitter), max_delay]`: never
/// zero, so a client that keeps failing (a revoked key, a disabled device) never retries in a
/// hot loop, and never longer than `max_delay`. Jitter spreads the reconnects of a fleet that
/// lost its hub at the same moment.
///
/// The client uses the policy for reconnecting and for twin requests the hub throttles (429)
/// or fails (5xx). The default starts at 1 s, doubles, stops growing at 60 s and takes up to
/// half of each delay off at random.
///
/// ```
/// use std::time::Duration;
/// use iot_device_sdk::RetryPolicy;
///
/// let policy = RetryPolicy::builder()
///     .initial_delay(Duration::from_millis(100))
///     .max_delay(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(policy.base_delay(0), Duration::from_millis(100));
/// assert_eq!(policy.base_delay(3), Duration::from_millis(800));
/// assert_eq!(policy.base_delay(30), Duration::from_secs(5));
/// // With the random draw at 0.5 and the default jitter of 0.5, a quarter comes off.
/// assert_eq!(policy.delay(1, 0.5), Duration::from_millis(150));
/// # Ok::<(), iot_device_sdk::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
}

impl RetryPolicy {
    /// The shortest initial delay accepted.
    pub const MIN_DELAY: Duration = Duration::from_millis(1);
    /// The longest delay accepted (one day).
    pub const MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);
    /// The largest multiplier accepted.
    pub const MAX_MULTIPLIER: f64 = 100.0;

    /// Starts a policy from the defaults.
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder {
            policy: Self::default(),
        }
    }

    /// The base delay of the first retry.
    pub fn initial_delay(&self) -> Duration {
        self.initial
    }

    /// The longest delay.
    pub fn max_delay(&self) -> Duration {
        self.max
    }

    /// The factor between the base delays of consecutive retries.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The largest fraction of a base delay taken off at random.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The shortest delay the policy ever gives: `initial_delay × (1 − jitter)`.
    pub fn min_delay(&self) -> Duration {
        self.initial.mul_f64(1.0 - self.jitter)
    }

    /// The delay of retry `attempt` before jitter: `min(max_delay, initial_delay ×
    /// multiplier^attempt)`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let secs = self.initial.as_secs_f64() * self.multiplier.powi(exponent);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            return self.max;
        }
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.max)
            .clamp(self.initial, self.max)
    }

    /// The delay of retry `attempt` for the random draw `unit`, a number in `[0, 1)` (values
    /// outside are clamped; NaN counts as 0).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        self.base_delay(attempt)
            .mul_f64(1.0 - self.jitter * unit)
            .clamp(self.min_delay(), self.max)
    }

    /// The delay of retry `attempt` with a fresh random draw.
    pub(crate) fn random_delay(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

impl Default for RetryPolicy {
    /// 1 s, doubling, at most 60 s, jitter 0.5.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.5,
        }
    }
}

/// Configures a [`RetryPolicy`]; [`RetryPolicyBuilder::build`] checks the values once.
#[derive(Debug, Clone, Copy)]
#[must_use = "a builder does nothing until `build`"]
pub struct RetryPolicyBuilder {
    policy: RetryPolicy,
}

impl RetryPolicyBuilder {
    /// The base delay of the first retry (default 1 s; at least [`RetryPolicy::MIN_DELAY`]).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.policy.initial = delay;
        self
    }

    /// The longest delay (default 60 s; at least the initial delay, at most
    /// [`RetryPolicy::MAX_DELAY`]).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.policy.max = delay;
        self
    }

    /// The factor between consecutive base delays (default 2; from 1, which keeps the delay
    /// constant, to [`RetryPolicy::MAX_MULTIPLIER`]).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.policy.multiplier = multiplier;
        self
    }

    /// The largest fraction of each delay taken off at random (default 0.5; from 0, no
    /// jitter, up to but excluding 1, so that no delay is ever zero).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.policy.jitter = jitter;
        self
    }

    /// The policy.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first value out of its range.
    pub fn build(self) -> Result<RetryPolicy, ConfigError> {
        let policy = self.policy;
        if !(RetryPolicy::MIN_DELAY..=RetryPolicy::MAX_DELAY).contains(&policy.initial) {
            return Err(ConfigError::new(
                "initial_delay",
                format!("must be from 1 ms to 1 day, not {:?}", policy.initial),
            ));
        }
        if !(policy.initial..=RetryPolicy::MAX_DELAY).contains(&policy.max) {
            return Err(ConfigError::new(
                "max_delay",
                format!(
                    "must be from the initial delay ({:?}) to 1 day, not {:?}",
                    policy.initial, policy.max
                ),
            ));
        }
        if !(1.0..=RetryPolicy::MAX_MULTIPLIER).contains(&policy.multiplier) {
            return Err(ConfigError::new(
                "multiplier",
                format!("must be from 1 to 100, not {}", policy.multiplier),
            ));
        }
        if !(0.0..1.0).contains(&policy.jitter) {
            return Err(ConfigError::new(
                "jitter",
                format!("must be at least 0 and less than 1, not {}", policy.jitter),
            ));
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(initial_ms: u64, max_ms: u64, multiplier: f64, jitter: f64) -> RetryPolicy {
        RetryPolicy::builder()
            .initial_delay(Duration::from_millis(initial_ms))
            .max_delay(Duration::from_millis(max_ms))
            .multiplier(multiplier)
            .jitter(jitter)
            .build()
            .unwrap()
    }

    #[test]
    fn the_default_is_valid_and_documented() {
        let default = RetryPolicy::default();
        assert_eq!(RetryPolicy::builder().build().unwrap(), default);
        assert_eq!(default.base_delay(0), Duration::from_secs(1));
        assert_eq!(default.base_delay(5), Duration::from_secs(32));
        assert_eq!(default.base_delay(6), Duration::from_secs(60));
        assert_eq!(default.min_delay(), Duration::from_millis(500));
        assert_eq!(default.delay(0, 0.0), Duration::from_secs(1));
        assert_eq!(
            default.delay(u32::MAX, 0.999),
            Duration::from_secs(60).mul_f64(1.0 - 0.5 * 0.999)
        );
    }

    #[test]
    fn every_value_out_of_range_is_named() {
        let cases = [
            (
                RetryPolicy::builder().initial_delay(Duration::ZERO),
                "initial_delay",
            ),
            (
                RetryPolicy::builder().initial_delay(Duration::from_secs(90_000)),
                "initial_delay",
            ),
            (
                RetryPolicy::builder().max_delay(Duration::from_millis(999)),
                "max_delay",
            ),
            (
                RetryPolicy::builder().max_delay(Duration::from_secs(90_000)),
                "max_delay",
            ),
            (RetryPolicy::builder().multiplier(0.5), "multiplier"),
            (RetryPolicy::builder().multiplier(f64::NAN), "multiplier"),
            (
                RetryPolicy::builder().multiplier(f64::INFINITY),
                "multiplier",
            ),
            (RetryPolicy::builder().jitter(1.0), "jitter"),
            (RetryPolicy::builder().jitter(-0.1), "jitter"),
            (RetryPolicy::builder().jitter(f64::NAN), "jitter"),
        ];
        for (builder, option) in cases {
            assert_eq!(builder.build().unwrap_err().option(), option);
        }
    }

    #[test]
    fn odd_draws_are_clamped() {
        let policy = policy(100, 1000, 2.0, 0.5);
        assert_eq!(policy.delay(0, f64::NAN), Duration::from_millis(100));
        assert_eq!(policy.delay(0, -3.0), Duration::from_millis(100));
        assert_eq!(policy.delay(0, 7.0), Duration::from_millis(50));
    }

    fn valid_policy() -> impl Strategy<Value = RetryPolicy> {
        (1u64..=60_000, 0u64..=600_000, 1.0f64..=100.0, 0.0f64..0.999).prop_map(
            |(initial, extra, multiplier, jitter)| {
                policy(initial, initial + extra, multiplier, jitter)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn delays_stay_within_bounds(policy in valid_policy(), attempt in any::<u32>(), unit in 0.0f64..1.0) {
            let delay = policy.delay(attempt, unit);
            prop_assert!(delay >= policy.min_delay());
            prop_assert!(delay <= policy.max_delay());
            prop_assert!(delay > Duration::ZERO);
            prop_assert!(delay <= policy.base_delay(attempt));
        }

        #[test]
        fn base_delays_grow_until_the_maximum(policy in valid_policy(), attempt in 0u32..200) {
            let here = policy.base_delay(attempt);
            let next = policy.base_delay(attempt + 1);
            prop_assert!(next >= here);
            prop_assert!(here >= policy.initial_delay());
            prop_assert!(here <= policy.max_delay());
            prop_assert_eq!(policy.base_delay(0), policy.initial_delay());
        }

        #[test]
        fn random_delays_stay_within_bounds(policy in valid_policy(), attempt in any::<u32>()) {
            let delay = policy.random_delay(attempt);
            prop_assert!(delay >= policy.min_delay() && delay <= policy.max_delay());
        }
    }
}
