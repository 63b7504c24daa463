//! Which refs reach which commits, for every commit with findings at once.
//!
//! Asking each ref separately whether it reaches a commit costs refs ×
//! commits × history: hours on a GitHub mirror with thousands of
//! `refs/pull/*`. Instead the commit graph is walked once, parents before
//! children, carrying per commit a bitset of the *target* commits (those that
//! introduced a finding) it reaches: a commit reaches what its parents reach,
//! plus itself. A tip then reaches exactly the targets set in its commit's
//! bitset. The cost is one pass over the graph plus one bitset per tip, of
//! `targets / 64` words each, whatever the number of refs; a bitset is freed
//! as soon as the last child of its commit has taken it over, so memory
//! follows the width of the history, not its length. Each target's refs
//! come out as a [`RefSet`]: a bitset over one shared table of names.

use std::collections::HashMap;
use std::sync::Arc;

use git2::{ObjectType, Odb, Oid};

use super::commit::{self, CommitInfo, Tip};
use super::oidset::{LocalOidSet, OidBuild};
use crate::refs::RefSet;

/// The commit graph as a walk read it: each commit's parents, by index.
#[derive(Debug, Default)]
pub(crate) struct CommitGraph {
    index: HashMap<Oid, u32, OidBuild>,
    /// Per commit, its parents' ids until [`CommitGraph::seal`] resolves them.
    pending: Vec<Vec<Oid>>,
    /// Per commit, the indexes of its parents that are in the graph.
    parents: Vec<Vec<u32>>,
    oids: Vec<Oid>,
    /// Root trees, so attribution need not read the commits again.
    trees: Vec<Oid>,
    /// Committer times, to order independent lines oldest first.
    times: Vec<i64>,
}

impl CommitGraph {
    /// Record commit `oid` with its parents (none at a shallow clone's cut).
    pub fn add(&mut self, oid: Oid, info: &CommitInfo, parents: Vec<Oid>) {
        if self.index.contains_key(&oid) {
            return;
        }
        self.index.insert(oid, self.pending.len() as u32);
        self.pending.push(parents);
        self.oids.push(oid);
        self.trees.push(info.tree);
        self.times.push(info.time);
    }

    /// Read the graph reachable from `tips` (range and staged modes, which do
    /// not walk the whole history themselves). Unreadable commits end their
    /// line: the scan already reported them.
    pub fn walk(odb: &Odb<'_>, tips: &[Tip], boundary: &LocalOidSet) -> Self {
        let mut graph = CommitGraph::default();
        let mut stack: Vec<Oid> = tips
            .iter()
            .filter(|t| t.kind == ObjectType::Commit)
            .map(|t| t.oid)
            .collect();
        let mut seen = LocalOidSet::default();
        while let Some(oid) = stack.pop() {
            if !seen.insert(oid) {
                continue;
            }
            let Ok(info) = commit::read(odb, oid) else {
                continue;
            };
            let parents = if boundary.contains(&oid) {
                Vec::new()
            } else {
                info.parents.clone()
            };
            stack.extend(parents.iter().copied().filter(|p| !seen.contains(p)));
            graph.add(oid, &info, parents);
        }
        graph.seal();
        graph
    }

    /// Resolve parent ids to indexes (parents outside the graph are dropped).
    pub fn seal(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.parents = pending
            .into_iter()
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| self.index.get(p).copied())
                    .collect()
            })
            .collect();
    }

    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// Every commit once, parents before children, and among commits whose
    /// parents are all out, the oldest (committer time, then id) first: the
    /// order in which "the commit that introduced a blob" is the first one
    /// whose tree holds it. Kahn's algorithm over a min-heap.
    pub fn oldest_first(&self) -> Vec<(Oid, Oid)> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let n = self.len();
        let mut waiting: Vec<u32> = self.parents.iter().map(|p| p.len() as u32).collect();
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (c, ps) in self.parents.iter().enumerate() {
            for &p in ps {
                children[p as usize].push(c as u32);
            }
        }
        let key = |c: u32| Reverse((self.times[c as usize], self.oids[c as usize], c));
        let mut ready: BinaryHeap<_> = (0..n as u32)
            .filter(|&c| waiting[c as usize] == 0)
            .map(key)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse((_, oid, c))) = ready.pop() {
            order.push((oid, self.trees[c as usize]));
            for &child in &children[c as usize] {
                waiting[child as usize] -= 1;
                if waiting[child as usize] == 0 {
                    ready.push(key(child));
                }
            }
        }
        order
    }

    /// Every commit once, each after all of its parents (iterative
    /// depth-first post-order: no recursion, whatever the history's depth).
    fn parents_first(&self) -> Vec<u32> {
        let n = self.len();
        let mut order = Vec::with_capacity(n);
        let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
        let mut stack: Vec<(u32, usize)> = Vec::new();
        for root in 0..n as u32 {
            if state[root as usize] != 0 {
                continue;
            }
            state[root as usize] = 1;
            stack.push((root, 0));
            while let Some((c, next)) = stack.last_mut() {
                let c = *c;
                if let Some(&p) = self.parents[c as usize].get(*next) {
                    *next += 1;
                    if state[p as usize] == 0 {
                        state[p as usize] = 1;
                        stack.push((p, 0));
                    }
                } else {
                    state[c as usize] = 2;
                    order.push(c);
                    stack.pop();
                }
            }
        }
        order
    }
}

/// For each of `targets`, the sorted, de-duplicated names of the commit
/// tips that reach it (a tip at the commit itself included).
pub(crate) fn refs_reaching(
    graph: &CommitGraph,
    tips: &[Tip],
    targets: &[Oid],
) -> HashMap<Oid, RefSet, OidBuild> {
    let mut slot: HashMap<u32, usize> = HashMap::new();
    let mut placed: Vec<Oid> = Vec::new();
    for t in targets {
        if let Some(&i) = graph.index.get(t) {
            if let std::collections::hash_map::Entry::Vacant(e) = slot.entry(i) {
                e.insert(placed.len());
                placed.push(*t);
            }
        }
    }
    let mut out: HashMap<Oid, RefSet, OidBuild> = HashMap::default();
    if placed.is_empty() {
        return out;
    }
    let words = placed.len().div_ceil(64);
    let n = graph.len();
    let mut children = vec![0u32; n];
    for ps in &graph.parents {
        for &p in ps {
            children[p as usize] += 1;
        }
    }
    let mut is_tip = vec![false; n];
    for t in tips.iter().filter(|t| t.kind == ObjectType::Commit) {
        if let Some(&i) = graph.index.get(&t.oid) {
            is_tip[i as usize] = true;
        }
    }
    // `None` is the empty set: the many commits older than every target
    // allocate nothing.
    let mut bits: Vec<Option<Box<[u64]>>> = vec![None; n];
    for c in graph.parents_first() {
        let mut mine: Option<Box<[u64]>> = None;
        for &p in &graph.parents[c as usize] {
            let p = p as usize;
            if let Some(theirs) = &bits[p] {
                let acc = mine.get_or_insert_with(|| vec![0u64; words].into_boxed_slice());
                for (a, b) in acc.iter_mut().zip(theirs.iter()) {
                    *a |= *b;
                }
            }
            children[p] -= 1;
            if children[p] == 0 && !is_tip[p] {
                bits[p] = None;
            }
        }
        if let Some(&j) = slot.get(&c) {
            let acc = mine.get_or_insert_with(|| vec![0u64; words].into_boxed_slice());
            acc[j / 64] |= 1 << (j % 64);
        }
        bits[c as usize] = mine;
    }
    // One sorted table of tip names for the whole scan; each target's refs
    // are a bitset over it (a bit per name, not a copy of each name).
    let mut ordered: Vec<&Tip> = tips
        .iter()
        .filter(|t| t.kind == ObjectType::Commit)
        .collect();
    ordered.sort_by(|a, b| a.name.cmp(&b.name));
    let mut table: Vec<Arc<str>> = Vec::new();
    let mut name_of: Vec<usize> = Vec::with_capacity(ordered.len());
    for t in &ordered {
        if table.last().is_none_or(|last| **last != *t.name) {
            table.push(Arc::from(t.name.as_str()));
        }
        name_of.push(table.len() - 1);
    }
    let table: Arc<[Arc<str>]> = table.into();
    let name_words = table.len().div_ceil(64);
    let mut sets: Vec<Vec<u64>> = vec![vec![0u64; name_words]; placed.len()];
    for (k, t) in ordered.iter().enumerate() {
        let Some(set) = graph
            .index
            .get(&t.oid)
            .and_then(|&i| bits[i as usize].as_ref())
        else {
            continue;
        };
        let n = name_of[k];
        for (w, word) in set.iter().enumerate() {
            let mut word = *word;
            while word != 0 {
                let j = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                sets[j][n / 64] |= 1 << (n % 64);
            }
        }
    }
    for (j, set) in sets.into_iter().enumerate() {
        out.insert(placed[j], RefSet::new(Arc::clone(&table), set));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    fn tip(name: &str, n: u8) -> Tip {
        Tip {
            name: name.into(),
            oid: oid(n),
            kind: ObjectType::Commit,
        }
    }

    fn at(time: i64) -> CommitInfo {
        CommitInfo {
            tree: Oid::zero(),
            parents: Vec::new(),
            time,
        }
    }

    /// 1 ← 2 ← 3 ← 5 (merge of 3 and 4), 1 ← 4; 6 unrelated.
    fn graph() -> CommitGraph {
        let mut g = CommitGraph::default();
        g.add(oid(5), &at(50), vec![oid(3), oid(4)]);
        g.add(oid(3), &at(30), vec![oid(2)]);
        g.add(oid(2), &at(20), vec![oid(1)]);
        g.add(oid(4), &at(40), vec![oid(1)]);
        g.add(oid(1), &at(10), vec![]);
        g.add(oid(6), &at(5), vec![oid(99)]); // parent outside the graph (shallow, missing)
        g.seal();
        g
    }

    #[test]
    fn each_target_gets_exactly_the_tips_that_reach_it() {
        let g = graph();
        let tips = vec![
            tip("refs/heads/main", 5),
            tip("refs/pull/1/head", 4),
            tip("refs/pull/2/head", 2),
            tip("HEAD", 5),
            tip("refs/heads/main", 5), // listed twice: named once
            tip("refs/heads/other", 6),
            tip("refs/heads/gone", 42),
        ];
        let got = refs_reaching(&g, &tips, &[oid(1), oid(2), oid(4), oid(6), oid(77)]);
        let names = |n: u8| {
            got.get(&oid(n))
                .map(|r| r.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(
            names(1),
            [
                "HEAD",
                "refs/heads/main",
                "refs/pull/1/head",
                "refs/pull/2/head"
            ]
        );
        assert_eq!(names(2), ["HEAD", "refs/heads/main", "refs/pull/2/head"]);
        assert_eq!(names(4), ["HEAD", "refs/heads/main", "refs/pull/1/head"]);
        assert_eq!(names(6), ["refs/heads/other"]);
        assert!(!got.contains_key(&oid(77)), "not in the graph: no entry");
    }

    #[test]
    fn oldest_first_puts_parents_first_then_the_oldest() {
        let order = graph().oldest_first();
        let at = |n: u8| order.iter().position(|(o, _)| *o == oid(n)).unwrap();
        // 6 is the oldest root; 1 next; 2 (20) before 3 (30) before 4 (40); 5 merges.
        assert_eq!(order.len(), 6);
        assert!(at(6) < at(1) && at(1) < at(2) && at(2) < at(3) && at(3) < at(4) && at(4) < at(5));
    }

    #[test]
    fn more_than_a_word_of_targets() {
        // A line of 200 commits, a tip every 10: target k is reached by the
        // tips at or after it.
        let mut g = CommitGraph::default();
        for i in 1..=200u32 {
            let o = Oid::from_bytes(&[
                (i % 256) as u8,
                (i / 256) as u8,
                1,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ])
            .unwrap();
            let parents = if i == 1 {
                vec![]
            } else {
                let j = i - 1;
                vec![Oid::from_bytes(&[
                    (j % 256) as u8,
                    (j / 256) as u8,
                    1,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ])
                .unwrap()]
            };
            g.add(o, &at(i64::from(i)), parents);
        }
        g.seal();
        let at = |i: u32| {
            Oid::from_bytes(&[
                (i % 256) as u8,
                (i / 256) as u8,
                1,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ])
            .unwrap()
        };
        let tips: Vec<Tip> = (1..=20)
            .map(|k| Tip {
                name: format!("t{:03}", k * 10),
                oid: at(k * 10),
                kind: ObjectType::Commit,
            })
            .collect();
        let targets: Vec<Oid> = (1..=200).map(at).collect();
        let got = refs_reaching(&g, &tips, &targets);
        for i in 1..=200u32 {
            let expect: Vec<String> = (1..=20)
                .filter(|k| k * 10 >= i)
                .map(|k| format!("t{:03}", k * 10))
                .collect();
            let names: Vec<String> = got[&at(i)].iter().map(|s| s.to_string()).collect();
            assert_eq!(names, expect, "commit {i}");
        }
    }
}
