//! Pairing a client_secret with the client_id beside it, so a report shows
//! one credential (what a responder must rotate) rather than two halves.

/// How far apart (in lines) an id and a secret may sit and still be one credential.
pub const PAIR_WINDOW_LINES: u64 = 10;

/// A candidate half of a pair: its index in the detection list and line.
#[derive(Debug, Clone, Copy)]
pub struct Half {
    pub index: usize,
    pub line: u64,
}

/// For each secret, the id it pairs with (indices into the caller's list).
///
/// Each secret takes the nearest id within the window (an id above wins a
/// tie, as in `.env` files that list the id first); an id already taken is
/// used only when no free one is in reach, as when one id sits above a
/// sandbox and a production secret.
pub fn pair(secrets: &[Half], ids: &[Half]) -> Vec<(usize, usize)> {
    let mut used = vec![false; ids.len()];
    let mut pairs = Vec::new();
    for s in secrets {
        let in_reach = |i: &usize| ids[*i].line.abs_diff(s.line) <= PAIR_WINDOW_LINES;
        let rank = |i: &usize| {
            let id = ids[*i];
            (id.line.abs_diff(s.line), id.line > s.line, id.index)
        };
        let free = (0..ids.len())
            .filter(|i| !used[*i])
            .filter(in_reach)
            .min_by_key(rank);
        let chosen = free.or_else(|| (0..ids.len()).filter(in_reach).min_by_key(rank));
        if let Some(i) = chosen {
            used[i] = true;
            pairs.push((s.index, ids[i].index));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(index: usize, line: u64) -> Half {
        Half { index, line }
    }

    #[test]
    fn env_file_with_two_environments() {
        // id1 (line 1), secret1 (2), id2 (4), secret2 (5)
        let pairs = pair(&[h(1, 2), h(3, 5)], &[h(0, 1), h(2, 4)]);
        assert_eq!(pairs, vec![(1, 0), (3, 2)]);
    }

    #[test]
    fn out_of_window_and_shared_id() {
        assert!(pair(&[h(1, 40)], &[h(0, 1)]).is_empty());
        let pairs = pair(&[h(1, 2), h(2, 3)], &[h(0, 1)]);
        assert_eq!(pairs, vec![(1, 0), (2, 0)]);
    }
}
