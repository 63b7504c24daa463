//! Tree objects read straight from their raw bytes. The history walk reads
//! every tree of a repository once; parsing `<mode> <name>\0<id>` in place
//! avoids building a libgit2 tree object (and its per-entry allocations) for
//! each of them.

use git2::Oid;

/// What a tree entry points at, from its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tree,
    /// A regular file, executable or not.
    Blob,
    /// A symbolic link: a blob holding the target path.
    Symlink,
    /// A submodule: a commit of another repository, not stored here.
    Gitlink,
}

#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub kind: Kind,
    pub name: &'a [u8],
    pub oid: Oid,
}

/// A tree whose bytes do not follow the format.
#[derive(Debug, thiserror::Error)]
#[error("malformed tree object at byte {0}")]
pub struct Malformed(pub usize);

/// Length of a SHA-1 object id, the only kind libgit2 reads here.
const ID_LEN: usize = 20;

/// Iterate the entries of a raw tree object.
pub fn entries(data: &[u8]) -> Entries<'_> {
    Entries { data, pos: 0 }
}

pub struct Entries<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let start = self.pos;
        let parsed = parse_one(&self.data[start..]);
        match parsed {
            Some((entry, used)) => {
                self.pos += used;
                Some(Ok(entry))
            }
            None => {
                // Stop after the first error: nothing after it can be trusted.
                self.pos = self.data.len();
                Some(Err(Malformed(start)))
            }
        }
    }
}

fn parse_one(rest: &[u8]) -> Option<(Entry<'_>, usize)> {
    let space = memchr::memchr(b' ', rest)?;
    let mut mode = 0u32;
    for &d in &rest[..space] {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        mode = mode.checked_mul(8)?.checked_add(u32::from(d - b'0'))?;
    }
    let name_start = space + 1;
    let nul = name_start + memchr::memchr(0, &rest[name_start..])?;
    let id_end = nul + 1 + ID_LEN;
    let id = rest.get(nul + 1..id_end)?;
    let oid = Oid::from_bytes(id).ok()?;
    let kind = match mode & 0o170000 {
        0o040000 => Kind::Tree,
        0o160000 => Kind::Gitlink,
        0o120000 => Kind::Symlink,
        0o100000 => Kind::Blob,
        _ => return None,
    };
    Some((
        Entry {
            kind,
            name: &rest[name_start..nul],
            oid,
        },
        id_end,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(entries: &[(&str, &str, [u8; 20])]) -> Vec<u8> {
        let mut v = Vec::new();
        for (mode, name, id) in entries {
            v.extend_from_slice(mode.as_bytes());
            v.push(b' ');
            v.extend_from_slice(name.as_bytes());
            v.push(0);
            v.extend_from_slice(id);
        }
        v
    }

    #[test]
    fn parses_each_kind() {
        let data = raw(&[
            ("100644", "a.txt", [1; 20]),
            ("100755", "run.sh", [2; 20]),
            ("120000", "link", [3; 20]),
            ("40000", "sub", [4; 20]),
            ("160000", "vendor", [5; 20]),
        ]);
        let got: Vec<_> = entries(&data).map(|e| e.unwrap()).collect();
        let kinds: Vec<_> = got.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Blob,
                Kind::Blob,
                Kind::Symlink,
                Kind::Tree,
                Kind::Gitlink
            ]
        );
        assert_eq!(got[3].name, b"sub");
        assert_eq!(got[3].oid.as_bytes(), &[4; 20]);
    }

    #[test]
    fn truncated_tree_is_an_error_not_a_panic() {
        let mut data = raw(&[("100644", "a.txt", [1; 20])]);
        data.truncate(data.len() - 3);
        let got: Vec<_> = entries(&data).collect();
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
        assert!(entries(b"abc def\0").next().unwrap().is_err());
    }
}
