//! Byte offsets to 1-based line and column, computed only for the few offsets
//! that matter (findings), never for the whole chunk.

/// Maps ascending offsets in one buffer to positions, counting newlines once.
pub struct LineMap<'a> {
    bytes: &'a [u8],
    /// Offset up to which newlines have been counted, and the count.
    pos: usize,
    line: u64,
    line_start: usize,
}

/// A 1-based line and byte column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl<'a> LineMap<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        LineMap {
            bytes,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Position of `offset`; offsets may come in any order (going back rescans).
    pub fn position(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.bytes.len());
        if offset < self.pos {
            *self = LineMap::new(self.bytes);
        }
        for nl in memchr::memchr_iter(b'\n', &self.bytes[self.pos..offset]) {
            self.line += 1;
            self.line_start = self.pos + nl + 1;
        }
        self.pos = offset;
        Position {
            line: self.line,
            column: (offset - self.line_start) as u64 + 1,
        }
    }
}

/// The position just past `span`, which starts at `from`.
pub fn position_after(from: Position, span: &[u8]) -> Position {
    match memchr::memrchr(b'\n', span) {
        None => Position {
            line: from.line,
            column: from.column + span.len() as u64,
        },
        Some(last) => Position {
            line: from.line + memchr::memchr_iter(b'\n', span).count() as u64,
            column: (span.len() - last) as u64,
        },
    }
}

/// Number of newlines between two offsets (in either order).
pub fn lines_between(bytes: &[u8], a: usize, b: usize) -> usize {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    memchr::memchr_iter(b'\n', &bytes[lo.min(bytes.len())..hi.min(bytes.len())]).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_with_crlf_and_out_of_order() {
        let text = b"ab\r\ncd\nefg";
        let mut m = LineMap::new(text);
        assert_eq!(m.position(0), Position { line: 1, column: 1 });
        assert_eq!(m.position(5), Position { line: 2, column: 2 });
        assert_eq!(m.position(8), Position { line: 3, column: 2 });
        assert_eq!(m.position(1), Position { line: 1, column: 2 });
        assert_eq!(lines_between(text, 8, 0), 2);
        let from = m.position(1);
        assert_eq!(
            position_after(from, &text[1..5]),
            Position { line: 2, column: 2 }
        );
        assert_eq!(
            position_after(from, &text[1..2]),
            Position { line: 1, column: 3 }
        );
    }
}
