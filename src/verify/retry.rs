//! When to try a request again: exponential backoff with jitter, honouring
//! the server's `Retry-After`, within a fixed retry budget.

use std::time::Duration;

use rand::Rng;

/// The longest `Retry-After` we are willing to wait for one retry.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// No computed delay exceeds this (Retry-After may, up to [`MAX_RETRY_AFTER`]).
    pub cap: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            retries: 3,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0-based): "equal jitter", a
    /// random point in the upper half of `base * 2^retry` (capped), and never
    /// less than what the server asked for in `Retry-After`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let half = exp / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_millis() as u64);
        let computed = half + Duration::from_millis(jitter);
        match retry_after {
            // At least what was asked, plus a little spread so that workers
            // told the same `Retry-After` do not return in lockstep.
            Some(asked) => {
                let spread = rand::thread_rng().gen_range(0..=self.base.as_millis() as u64);
                (asked + Duration::from_millis(spread)).min(MAX_RETRY_AFTER)
            }
            None => computed,
        }
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - now;
    Some(if wait.is_negative() {
        Duration::ZERO
    } else {
        Duration::try_from(wait).unwrap_or(Duration::ZERO)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered() {
        let b = Backoff::default();
        for retry in 0..10 {
            let d = b.delay(retry, None);
            let exp = (b.base * 2u32.pow(retry)).min(b.cap);
            assert!(d >= exp / 2 && d <= exp, "retry {retry}: {d:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let b = Backoff::default();
        assert!(b.delay(0, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(100_000))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = time::macros::datetime!(2015-10-21 07:28:00 UTC);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
