//! Each distinct client_id + client_secret pair is checked once per run,
//! however many times it was found. Pairs are keyed by a domain-separated
//! SHA-256, so the table never holds a plaintext it does not need.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::finding::Verification;
use crate::secret::Secret;

/// The one-way identity of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PairKey([u8; 32]);

impl PairKey {
    const DOMAIN: &'static [u8] = b"cybrid-scan/verify-pair/v1\0";

    pub fn of(client_id: &Secret, secret: &Secret) -> Self {
        let mut h = Sha256::new();
        h.update(Self::DOMAIN);
        h.update((client_id.len() as u64).to_le_bytes());
        h.update(client_id.expose().as_bytes());
        h.update(secret.expose().as_bytes());
        PairKey(h.finalize().into())
    }

    /// Lowercase hex, for keys in files (a sweep's persistent cache).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Verdicts kept beyond one run (a sweep's state directory), keyed by
/// [`PairKey`]: a pair recalled here costs no request.
pub trait VerdictMemory {
    /// The remembered verdict of a pair, if still fresh.
    fn recall(&self, key: &PairKey) -> Option<Verification>;
    /// Remember a verdict reached in this run (the memory picks which to keep).
    fn remember(&mut self, key: &PairKey, verdict: &Verification);
}

/// Distinct pairs in first-seen order, and which job each finding maps to.
#[derive(Debug, Default)]
pub struct PairCache {
    index: HashMap<PairKey, usize>,
}

impl PairCache {
    /// The job index of this pair, and whether it is new.
    pub fn slot(&mut self, client_id: &Secret, secret: &Secret) -> (usize, bool) {
        self.slot_of(PairKey::of(client_id, secret))
    }

    /// [`Self::slot`] for a key already computed.
    pub fn slot_of(&mut self, key: PairKey) -> (usize, bool) {
        let next = self.index.len();
        match self.index.get(&key) {
            Some(i) => (*i, false),
            None => {
                self.index.insert(key, next);
                (next, true)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_pair_same_slot_and_no_ambiguity() {
        let mut c = PairCache::default();
        let (a, new_a) = c.slot(&Secret::new("id1"), &Secret::new("s1"));
        let (b, new_b) = c.slot(&Secret::new("id1"), &Secret::new("s1"));
        assert_eq!((a, new_a, b, new_b), (0, true, 0, false));
        // Splitting the same bytes differently is a different pair.
        let (d, _) = c.slot(&Secret::new("id"), &Secret::new("1s1"));
        assert_eq!(d, 1);
        assert_eq!(c.len(), 2);
    }
}
