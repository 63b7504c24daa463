//! A shared request-rate limit: calls to the identity service are spaced at
//! least `1/rate` apart across all worker threads, so a scan that finds a
//! thousand pairs does not hammer Cybrid (or trip its rate limits).

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// At most `per_second` acquisitions per second; a non-finite or
    /// non-positive rate means no limit.
    pub fn new(per_second: f64) -> Self {
        let interval = if per_second.is_finite() && per_second > 0.0 {
            Duration::from_secs_f64(1.0 / per_second)
        } else {
            Duration::ZERO
        };
        RateLimiter {
            interval,
            next: Mutex::new(None),
        }
    }

    /// Wait for the next slot. Returns `false` at once (taking no slot) when
    /// that slot would come after `deadline`.
    pub fn acquire(&self, deadline: Instant) -> bool {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            if slot > deadline {
                return false;
            }
            *next = Some(slot + self.interval);
            slot
        };
        let now = Instant::now();
        if slot > now {
            std::thread::sleep(slot - now);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_and_respect_the_deadline() {
        let limiter = RateLimiter::new(1.0);
        let far = Instant::now() + Duration::from_secs(60);
        assert!(limiter.acquire(far));
        // The next slot is a second away: a deadline before it refuses at once.
        assert!(!limiter.acquire(Instant::now() + Duration::from_millis(100)));
        let unlimited = RateLimiter::new(0.0);
        let soon = Instant::now() + Duration::from_secs(5);
        for _ in 0..1000 {
            assert!(unlimited.acquire(soon));
        }
        // A deadline already past refuses even without a limit.
        assert!(!unlimited.acquire(Instant::now() - Duration::from_millis(1)));
    }
}
