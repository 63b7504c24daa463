//! The refs that reach a finding's commit, kept small. On a GitHub mirror
//! with 10,000 `refs/pull/*` an old commit is reached by thousands of refs,
//! and 2,000 findings would hold ten million names. Instead a scan keeps one
//! sorted table of ref names, and each set is a bitset over it (a bit per
//! ref: 1.25 KB for 10,000 refs), shared by every finding of the commit.
//! Sets read back from a report hold their own table.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

/// How many refs a report lists per finding by default: a GitHub mirror's
/// 10,000 pull-request refs reaching every old commit would make the report
/// grow with findings × refs (289 MB for 1,300 findings). `--all-refs` lifts it.
pub const DEFAULT_LISTED: usize = 32;

/// The refs listed per set when serialized; state files keep every ref
/// (the default), reports set [`DEFAULT_LISTED`] unless `--all-refs`.
static LISTED: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Set how many refs serialized sets list (reports: [`DEFAULT_LISTED`]).
pub fn set_listed_limit(limit: usize) {
    LISTED.store(limit.max(1), AtomicOrdering::Relaxed);
}

/// How many refs serialized sets list.
pub fn listed_limit() -> usize {
    LISTED.load(AtomicOrdering::Relaxed)
}

/// Branches, then tags, then `HEAD` and remote-tracking branches, then the
/// rest (pull-request refs and the like): what a reader acts on comes first.
fn rank(name: &str) -> u8 {
    if name.starts_with("refs/heads/") {
        0
    } else if name.starts_with("refs/tags/") {
        1
    } else if name == "HEAD" || name.starts_with("refs/remotes/") {
        2
    } else {
        3
    }
}

/// At most `limit` of `names`: the most telling are chosen first (see
/// [`rank`]), and listed in name order, as a full list would be.
pub fn listed<'a>(names: impl IntoIterator<Item = &'a str>, limit: usize) -> Vec<&'a str> {
    let mut groups: [Vec<&str>; 4] = Default::default();
    for name in names {
        let g = &mut groups[rank(name) as usize];
        // Only the first `limit` of each group can ever be listed.
        if g.len() < limit {
            g.push(name);
        }
    }
    let mut chosen: Vec<&str> = groups.into_iter().flatten().take(limit).collect();
    chosen.sort_unstable();
    chosen
}

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A set of ref names, iterated in the table's (sorted) order.
#[derive(Clone, Default)]
pub struct RefSet {
    names: Arc<[Arc<str>]>,
    bits: Arc<[u64]>,
}

impl RefSet {
    /// The refs of `names` (a sorted, de-duplicated table) whose bit is set.
    pub fn new(names: Arc<[Arc<str>]>, bits: Vec<u64>) -> Self {
        RefSet {
            names,
            bits: bits.into(),
        }
    }

    /// A set of exactly these names (sorted and de-duplicated here).
    pub fn from_names<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        let sorted: BTreeSet<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
        let table: Arc<[Arc<str>]> = sorted.into_iter().map(Arc::from).collect();
        let mut bits = vec![0u64; table.len().div_ceil(64)];
        for i in 0..table.len() {
            bits[i / 64] |= 1 << (i % 64);
        }
        RefSet::new(table, bits)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.indexes()
            .filter_map(|i| self.names.get(i).map(|n| &**n))
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The sorted union of `sets`: a word-wise OR where they share a table
    /// (the findings of one scan), a merge of names otherwise.
    pub fn union<'a>(sets: impl IntoIterator<Item = &'a RefSet>) -> Vec<&'a str> {
        let sets: Vec<&RefSet> = sets.into_iter().filter(|s| !s.is_empty()).collect();
        let Some(first) = sets.first() else {
            return Vec::new();
        };
        if sets.iter().all(|s| Arc::ptr_eq(&s.names, &first.names)) {
            let mut bits = vec![0u64; first.bits.len()];
            for s in &sets {
                for (a, b) in bits.iter_mut().zip(s.bits.iter()) {
                    *a |= *b;
                }
            }
            let all = RefSet::new(Arc::clone(&first.names), bits);
            // Borrow the names from the shared table, not the temporary set.
            let picked: Vec<usize> = all.indexes().collect();
            return picked.into_iter().map(|i| &*first.names[i]).collect();
        }
        let names: BTreeSet<&str> = sets.iter().flat_map(|s| s.iter()).collect();
        names.into_iter().collect()
    }

    fn indexes(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(w, word)| {
            let mut word = *word;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                Some(i)
            })
        })
    }
}

impl fmt::Debug for RefSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for RefSet {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for RefSet {}

impl PartialOrd for RefSet {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RefSet {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl Hash for RefSet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for name in self.iter() {
            name.hash(state);
        }
    }
}

impl Serialize for RefSet {
    /// The set, or (in reports) its first [`listed_limit`] names, branches
    /// and tags first; the location's `refs_total` then says how many in all.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let limit = listed_limit();
        if limit == usize::MAX {
            let mut seq = serializer.serialize_seq(Some(self.len()))?;
            for name in self.iter() {
                seq.serialize_element(name)?;
            }
            return seq.end();
        }
        let names = listed(self.iter(), limit);
        let mut seq = serializer.serialize_seq(Some(names.len()))?;
        for name in names {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for RefSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        Ok(RefSet::from_names(names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(names: &[&str]) -> Arc<[Arc<str>]> {
        names.iter().map(|n| Arc::from(*n)).collect()
    }

    #[test]
    fn sets_over_a_shared_table_iterate_in_order_and_unite() {
        let names = table(&[
            "HEAD",
            "refs/heads/main",
            "refs/pull/1/head",
            "refs/tags/v1",
        ]);
        let a = RefSet::new(Arc::clone(&names), vec![0b0101]);
        let b = RefSet::new(Arc::clone(&names), vec![0b1001]);
        assert_eq!(a.iter().collect::<Vec<_>>(), ["HEAD", "refs/pull/1/head"]);
        assert_eq!(a.len(), 2);
        assert_eq!(
            RefSet::union([&a, &b]),
            ["HEAD", "refs/pull/1/head", "refs/tags/v1"]
        );
        let read = RefSet::from_names(["refs/tags/v1", "HEAD"]);
        assert_eq!(
            RefSet::union([&a, &read]),
            ["HEAD", "refs/pull/1/head", "refs/tags/v1"]
        );
        assert!(RefSet::default().is_empty());
        assert_eq!(RefSet::union([&RefSet::default()]), Vec::<&str>::new());
    }

    #[test]
    fn listed_puts_branches_and_tags_first_and_stops_at_the_limit() {
        let names = [
            "HEAD",
            "refs/heads/main",
            "refs/pull/1/head",
            "refs/pull/2/head",
            "refs/remotes/origin/dev",
            "refs/tags/v1",
        ];
        assert_eq!(
            listed(names, 3),
            ["HEAD", "refs/heads/main", "refs/tags/v1"]
        );
        assert_eq!(listed(names, 2), ["refs/heads/main", "refs/tags/v1"]);
        assert_eq!(listed(names, 100), names);
    }

    #[test]
    fn json_is_a_list_of_names_and_reads_back_equal() {
        let names = table(&["HEAD", "refs/heads/main"]);
        let set = RefSet::new(names, vec![0b10]);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["refs/heads/main"]"#);
        let back: RefSet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, set);
        assert_eq!(back.cmp(&set), Ordering::Equal);
    }
}
