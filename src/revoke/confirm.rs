//! Confirmation on the leaked pair itself: after a DELETE, ask the token
//! endpoint of the same environment for a token with the leaked
//! client_id/secret. Only `401 invalid_client` proves the credential dead;
//! a token (or a refused scope, which comes after authentication) proves it
//! alive; anything else (5xx, 429, timeouts, resets, garbage) is no
//! evidence either way and leaves the revocation unconfirmed. This needs no
//! admin scope at all, so it works with the least-privilege responder
//! credential. The request is verification's own probe (scope `banks:read`),
//! and any token it gets is dropped unread beyond its claims.

use std::time::Duration;

use crate::secret::Secret;
use crate::verify::client::{Answer, ClientError, TokenClient};
use crate::verify::endpoint::{Endpoints, Environment};
use crate::verify::retry::Backoff;

/// What the token endpoint said about the leaked pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairState {
    /// 401 invalid_client: the pair no longer authenticates.
    Dead,
    /// The pair still authenticates (a token, or a scope refused after
    /// authentication): the credential is not revoked.
    Alive(&'static str),
    /// No answer that decides, after the retries: `reason` says why.
    Unknown(String),
}

/// Asks the token endpoints about leaked pairs, with verification's retry
/// policy (429, 5xx, timeouts and resets retried with backoff).
pub struct PairCheck {
    client: TokenClient,
    timeout: Duration,
    backoff: Backoff,
}

impl PairCheck {
    pub fn new(
        endpoints: Endpoints,
        proxy: Option<&str>,
        timeout: Duration,
        backoff: Backoff,
    ) -> Result<Self, ClientError> {
        Ok(PairCheck {
            client: TokenClient::new(endpoints, proxy, timeout)?,
            timeout,
            backoff,
        })
    }

    /// One token request with the pair in `env`, retried while the answer
    /// is transient.
    pub fn check(&self, env: Environment, client_id: &Secret, secret: &Secret) -> PairState {
        let (answer, attempts) = self.answer(env, client_id, secret);
        state_of(&answer, attempts)
    }

    /// The token endpoint's last answer for the pair, retried while it is
    /// transient, and how many attempts it took.
    pub fn answer(&self, env: Environment, client_id: &Secret, secret: &Secret) -> (Answer, u32) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self.client.probe(env, client_id, secret, self.timeout);
            if answer.is_transient() && attempt <= self.backoff.retries {
                std::thread::sleep(self.backoff.delay(attempt - 1, answer.retry_after()));
                continue;
            }
            return (answer, attempt);
        }
    }
}

/// What an answer (the last of `attempts`) means for the revocation.
fn state_of(answer: &Answer, attempts: u32) -> PairState {
    match answer {
        Answer::Invalid => PairState::Dead,
        Answer::Live(_) => PairState::Alive("the token endpoint still issues tokens for the pair"),
        Answer::Authenticated(_) => PairState::Alive(
            "the token endpoint still authenticates the pair (it refused only the scope)",
        ),
        other if other.is_transient() => PairState::Unknown(format!(
            "the token endpoint gave no usable answer after {attempts} attempt(s) ({})",
            other.reason()
        )),
        other => PairState::Unknown(format!(
            "the token endpoint's answer proves nothing ({})",
            other.reason()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::client::Claims;

    #[test]
    fn only_invalid_client_is_dead_and_faults_are_unknown() {
        assert_eq!(state_of(&Answer::Invalid, 1), PairState::Dead);
        assert!(matches!(
            state_of(&Answer::Live(Claims::default()), 1),
            PairState::Alive(_)
        ));
        assert!(matches!(
            state_of(&Answer::Authenticated("scope_refused"), 1),
            PairState::Alive(_)
        ));
        let PairState::Unknown(why) = state_of(&Answer::ServerError(503, None), 4) else {
            panic!("a 5xx is not evidence");
        };
        assert!(why.contains("after 4 attempt(s) (server_error)"), "{why}");
        assert!(matches!(
            state_of(&Answer::IpRestricted, 1),
            PairState::Unknown(_)
        ));
    }
}
