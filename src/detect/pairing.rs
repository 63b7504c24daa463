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
///
/// Ids are grouped by line, so each secret looks at no more than the
/// 2 × window + 1 lines around it, and within a line at its first free id:
/// a minified file with a hundred thousand of each stays fast.
pub fn pair(secrets: &[Half], ids: &[Half]) -> Vec<(usize, usize)> {
    let mut sorted: Vec<Half> = ids.to_vec();
    sorted.sort_by_key(|h| (h.line, h.index));
    let mut groups: Vec<LineGroup> = Vec::new();
    for (i, h) in sorted.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if g.line == h.line => g.end = i + 1,
            _ => groups.push(LineGroup {
                line: h.line,
                start: i,
                end: i + 1,
                next_free: i,
            }),
        }
    }
    let mut pairs = Vec::new();
    for s in secrets {
        // Lines in rank order: same line, then for each distance the line above first.
        let lines = (0..=PAIR_WINDOW_LINES).flat_map(|d| {
            let above = s.line.checked_sub(d);
            let below = if d == 0 { None } else { s.line.checked_add(d) };
            above.into_iter().chain(below)
        });
        let mut fallback: Option<usize> = None;
        let mut chosen: Option<usize> = None;
        for line in lines {
            let Ok(g) = groups.binary_search_by_key(&line, |g| g.line) else {
                continue;
            };
            let group = &mut groups[g];
            fallback.get_or_insert(group.start);
            if group.next_free < group.end {
                chosen = Some(group.next_free);
                group.next_free += 1;
                break;
            }
        }
        if let Some(i) = chosen.or(fallback) {
            pairs.push((s.index, sorted[i].index));
        }
    }
    pairs
}

/// The ids on one line: `sorted[start..end]`; those before `next_free` are taken.
struct LineGroup {
    line: u64,
    start: usize,
    end: usize,
    next_free: usize,
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

    /// The definition the fast version must agree with: every id looked at.
    fn pair_by_search(secrets: &[Half], ids: &[Half]) -> Vec<(usize, usize)> {
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

    proptest::proptest! {
        #[test]
        fn agrees_with_the_exhaustive_search(
            lines in proptest::collection::vec((0u64..40, proptest::bool::ANY), 0..60)
        ) {
            // Detections in offset order: lines never go down; each is a secret or an id.
            let mut sorted = lines;
            sorted.sort_by_key(|(l, _)| *l);
            let halves: Vec<(Half, bool)> = sorted
                .iter()
                .enumerate()
                .map(|(i, (line, is_id))| (h(i, *line), *is_id))
                .collect();
            let secrets: Vec<Half> = halves.iter().filter(|(_, id)| !id).map(|(h, _)| *h).collect();
            let ids: Vec<Half> = halves.iter().filter(|(_, id)| *id).map(|(h, _)| *h).collect();
            proptest::prop_assert_eq!(pair(&secrets, &ids), pair_by_search(&secrets, &ids));
        }
    }

    #[test]
    fn out_of_window_and_shared_id() {
        assert!(pair(&[h(1, 40)], &[h(0, 1)]).is_empty());
        let pairs = pair(&[h(1, 2), h(2, 3)], &[h(0, 1)]);
        assert_eq!(pairs, vec![(1, 0), (2, 0)]);
    }
}
