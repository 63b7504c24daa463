//! Git's delta format: a header with the base's and the result's sizes, then
//! instructions that either copy a range of the base or insert literal bytes.
//! Every bound is checked: a corrupt delta is an error, never a panic or an
//! over-read.

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum DeltaError {
    #[error("delta header truncated")]
    Header,
    #[error("delta expects a base of {expected} bytes, the base has {actual}")]
    BaseSize { expected: u64, actual: usize },
    #[error("delta copies past the end of its base")]
    CopyOutOfRange,
    #[error("delta instruction truncated")]
    Truncated,
    #[error("delta uses the reserved instruction 0")]
    Reserved,
    #[error("delta result is {actual} bytes, its header says {expected}")]
    ResultSize { expected: u64, actual: usize },
}

/// The sizes a delta declares, and where its instructions start.
pub(crate) struct Header {
    pub base_size: u64,
    pub result_size: u64,
    pub body: usize,
}

/// Read a delta's header.
pub(crate) fn header(delta: &[u8]) -> Result<Header, DeltaError> {
    let mut at = 0;
    let base_size = varint(delta, &mut at)?;
    let result_size = varint(delta, &mut at)?;
    Ok(Header {
        base_size,
        result_size,
        body: at,
    })
}

/// Apply `delta` to `base`, appending the result to `out` (cleared first).
pub(crate) fn apply(base: &[u8], delta: &[u8], out: &mut Vec<u8>) -> Result<(), DeltaError> {
    let head = header(delta)?;
    if head.base_size != base.len() as u64 {
        return Err(DeltaError::BaseSize {
            expected: head.base_size,
            actual: base.len(),
        });
    }
    out.clear();
    // The declared size is only trusted as a capacity hint up to a bound: a
    // hostile header must not make us allocate gigabytes up front.
    out.reserve(head.result_size.min(64 << 20) as usize);
    let mut at = head.body;
    while let Some(&op) = delta.get(at) {
        at += 1;
        if op & 0x80 != 0 {
            let mut offset = 0usize;
            let mut size = 0usize;
            for bit in 0..4 {
                if op & (1 << bit) != 0 {
                    let b = *delta.get(at).ok_or(DeltaError::Truncated)?;
                    offset |= usize::from(b) << (8 * bit);
                    at += 1;
                }
            }
            for bit in 0..3 {
                if op & (0x10 << bit) != 0 {
                    let b = *delta.get(at).ok_or(DeltaError::Truncated)?;
                    size |= usize::from(b) << (8 * bit);
                    at += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            let end = offset.checked_add(size).ok_or(DeltaError::CopyOutOfRange)?;
            let range = base.get(offset..end).ok_or(DeltaError::CopyOutOfRange)?;
            out.extend_from_slice(range);
            if out.len() as u64 > head.result_size {
                return Err(DeltaError::ResultSize {
                    expected: head.result_size,
                    actual: out.len(),
                });
            }
        } else if op != 0 {
            let end = at + usize::from(op);
            let literal = delta.get(at..end).ok_or(DeltaError::Truncated)?;
            out.extend_from_slice(literal);
            at = end;
        } else {
            return Err(DeltaError::Reserved);
        }
    }
    if out.len() as u64 != head.result_size {
        return Err(DeltaError::ResultSize {
            expected: head.result_size,
            actual: out.len(),
        });
    }
    Ok(())
}

/// A little-endian base-128 size, as the delta header stores it.
fn varint(data: &[u8], at: &mut usize) -> Result<u64, DeltaError> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = *data.get(*at).ok_or(DeltaError::Header)?;
        *at += 1;
        if shift > 63 {
            return Err(DeltaError::Header);
        }
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn copies_and_inserts() {
        let base = b"hello, world of deltas";
        let mut delta = Vec::new();
        size(base.len() as u64, &mut delta);
        size(17, &mut delta);
        // copy offset 0, size 5 ("hello")
        delta.extend([0x80 | 0x10, 5]);
        // insert " big"
        delta.extend([4, b' ', b'b', b'i', b'g']);
        // copy offset 6 (" world"), size 6, then 2 more bytes of literal
        delta.extend([0x80 | 0x01 | 0x10, 6, 6]);
        delta.extend([2, b'!', b'\n']);
        let mut out = Vec::new();
        apply(base, &delta, &mut out).expect("valid delta");
        assert_eq!(out, b"hello big world!\n");
    }

    #[test]
    fn a_zero_copy_size_means_64k() {
        let base = vec![7u8; 0x10000];
        let mut delta = Vec::new();
        size(0x10000, &mut delta);
        size(0x10000, &mut delta);
        delta.push(0x80);
        let mut out = Vec::new();
        apply(&base, &delta, &mut out).expect("valid delta");
        assert_eq!(out.len(), 0x10000);
    }

    #[test]
    fn corrupt_deltas_are_errors() {
        let base = b"abc";
        let mut out = Vec::new();
        assert_eq!(apply(base, &[], &mut out), Err(DeltaError::Header));
        assert!(matches!(
            apply(base, &[4, 3], &mut out),
            Err(DeltaError::BaseSize { .. })
        ));
        // copy past the end of the base
        assert_eq!(
            apply(base, &[3, 4, 0x80 | 0x01 | 0x10, 1, 4], &mut out),
            Err(DeltaError::CopyOutOfRange)
        );
        // insert that runs off the end
        assert_eq!(
            apply(base, &[3, 4, 4, b'x'], &mut out),
            Err(DeltaError::Truncated)
        );
        assert_eq!(apply(base, &[3, 1, 0], &mut out), Err(DeltaError::Reserved));
        // copies past the declared result stop there, before the next instruction
        let copy_3 = [0x80 | 0x10, 3];
        let mut amplified = vec![3, 2];
        for _ in 0..1000 {
            amplified.extend(copy_3);
        }
        assert_eq!(
            apply(base, &amplified, &mut out),
            Err(DeltaError::ResultSize {
                expected: 2,
                actual: 3
            })
        );
        assert!(matches!(
            apply(base, &[3, 9, 1, b'x'], &mut out),
            Err(DeltaError::ResultSize { .. })
        ));
    }
}
