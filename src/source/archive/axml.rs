//! Android binary XML (`AndroidManifest.xml` and `res/xml/*` inside an
//! `.apk`), decoded to plain XML text so that a `<meta-data
//! android:name="CYBRID_CLIENT_SECRET" android:value="…"/>` reads to the
//! engine as it did in the source tree. Only what the engine needs is
//! rebuilt: elements with their attributes, and text. Every offset is
//! checked: a hostile file gives `None` or less text, never a panic.

const RES_XML_TYPE: u16 = 0x0003;
const RES_STRING_POOL_TYPE: u16 = 0x0001;
const RES_XML_START_ELEMENT_TYPE: u16 = 0x0102;
const RES_XML_END_ELEMENT_TYPE: u16 = 0x0103;
const RES_XML_CDATA_TYPE: u16 = 0x0104;
const UTF8_FLAG: u32 = 1 << 8;
const NO_INDEX: u32 = u32::MAX;

/// Whether `data` starts like Android binary XML.
pub fn is_binary_xml(data: &[u8]) -> bool {
    data.len() >= 8 && u16_at(data, 0) == Some(RES_XML_TYPE) && u16_at(data, 2) == Some(8)
}

/// The document as XML text; `None` when it cannot be read at all.
pub fn decode(data: &[u8]) -> Option<Vec<u8>> {
    let mut strings: Vec<String> = Vec::new();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let mut at = usize::from(u16_at(data, 2)?);
    let mut depth = 0usize;
    while at + 8 <= data.len() {
        let kind = u16_at(data, at)?;
        let header = usize::from(u16_at(data, at + 2)?);
        let size = u32_at(data, at + 4)? as usize;
        if size < 8 || at.checked_add(size)? > data.len() {
            break;
        }
        let chunk = &data[at..at + size];
        match kind {
            RES_STRING_POOL_TYPE => strings = string_pool(chunk).unwrap_or_default(),
            RES_XML_START_ELEMENT_TYPE => {
                let name = string(&strings, u32_at(chunk, header + 4)?);
                let attr_start = usize::from(u16_at(chunk, header + 8)?);
                let attr_size = usize::from(u16_at(chunk, header + 10)?).max(20);
                let count = usize::from(u16_at(chunk, header + 12)?);
                out.push_str(&"  ".repeat(depth));
                out.push('<');
                out.push_str(&name);
                for i in 0..count {
                    let a = header + attr_start + i * attr_size;
                    let Some(attr_name) = u32_at(chunk, a + 4) else {
                        break;
                    };
                    let raw = u32_at(chunk, a + 8).unwrap_or(NO_INDEX);
                    let data_type = chunk.get(a + 15).copied().unwrap_or(0);
                    let value = u32_at(chunk, a + 16).unwrap_or(0);
                    let text = if raw != NO_INDEX {
                        string(&strings, raw)
                    } else {
                        typed(&strings, data_type, value)
                    };
                    out.push_str(&format!(
                        " android:{}=\"{}\"",
                        string(&strings, attr_name),
                        escape(&text)
                    ));
                }
                out.push_str(">\n");
                depth += 1;
            }
            RES_XML_END_ELEMENT_TYPE => {
                depth = depth.saturating_sub(1);
                let name =
                    u32_at(chunk, header + 4).map_or_else(String::new, |n| string(&strings, n));
                out.push_str(&"  ".repeat(depth));
                out.push_str(&format!("</{name}>\n"));
            }
            RES_XML_CDATA_TYPE => {
                if let Some(i) = u32_at(chunk, header) {
                    out.push_str(&"  ".repeat(depth));
                    out.push_str(&escape(&string(&strings, i)));
                    out.push('\n');
                }
            }
            _ => {}
        }
        at += size;
    }
    Some(out.into_bytes())
}

fn typed(strings: &[String], data_type: u8, value: u32) -> String {
    match data_type {
        0x03 => string(strings, value),
        0x01 => format!("@0x{value:08x}"),
        0x12 => (value != 0).to_string(),
        0x11 => format!("0x{value:x}"),
        _ => value.to_string(),
    }
}

fn string(strings: &[String], i: u32) -> String {
    strings.get(i as usize).cloned().unwrap_or_default()
}

fn string_pool(chunk: &[u8]) -> Option<Vec<String>> {
    let count = u32_at(chunk, 8)? as usize;
    let flags = u32_at(chunk, 16)?;
    let start = u32_at(chunk, 20)? as usize;
    let header = usize::from(u16_at(chunk, 2)?);
    // A string costs at least 4 bytes of offsets: no more than the chunk holds.
    let count = count.min(chunk.len() / 4);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let off = u32_at(chunk, header + i * 4)? as usize;
        let at = start.checked_add(off)?;
        let s = if flags & UTF8_FLAG != 0 {
            utf8_string(chunk, at)
        } else {
            utf16_string(chunk, at)
        };
        out.push(s.unwrap_or_default());
    }
    Some(out)
}

fn utf8_string(chunk: &[u8], mut at: usize) -> Option<String> {
    // UTF-16 length, then UTF-8 length, each 1 or 2 bytes.
    for _ in 0..2 {
        let b = *chunk.get(at)?;
        at += if b & 0x80 != 0 { 2 } else { 1 };
    }
    let lead = *chunk.get(at - 1)?;
    let len = if at >= 2 && chunk.get(at - 2).is_some_and(|b| b & 0x80 != 0) {
        (usize::from(*chunk.get(at - 2)? & 0x7f) << 8) | usize::from(lead)
    } else {
        usize::from(lead)
    };
    let bytes = chunk.get(at..at.checked_add(len)?)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

fn utf16_string(chunk: &[u8], mut at: usize) -> Option<String> {
    let mut len = usize::from(u16_at(chunk, at)?);
    at += 2;
    if len & 0x8000 != 0 {
        len = ((len & 0x7fff) << 16) | usize::from(u16_at(chunk, at)?);
        at += 2;
    }
    let units: Vec<u16> = (0..len)
        .map(|k| u16_at(chunk, at + k * 2))
        .collect::<Option<_>>()?;
    Some(String::from_utf16_lossy(&units))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal binary XML document: `<meta-data name=… value=…/>` with
    /// a UTF-16 string pool, as aapt writes it.
    pub(crate) fn manifest(name: &str, value: &str) -> Vec<u8> {
        let strings = ["meta-data", "name", "value", name, value];
        let mut pool_strings = Vec::new();
        let mut offsets = Vec::new();
        for s in strings {
            offsets.push(pool_strings.len() as u32);
            let units: Vec<u16> = s.encode_utf16().collect();
            pool_strings.extend_from_slice(&(units.len() as u16).to_le_bytes());
            for u in units {
                pool_strings.extend_from_slice(&u.to_le_bytes());
            }
            pool_strings.extend_from_slice(&[0, 0]);
        }
        while pool_strings.len() % 4 != 0 {
            pool_strings.push(0);
        }
        let header = 28u16;
        let start = u32::from(header) + 4 * strings.len() as u32;
        let mut pool = Vec::new();
        pool.extend_from_slice(&RES_STRING_POOL_TYPE.to_le_bytes());
        pool.extend_from_slice(&header.to_le_bytes());
        let size = start as usize + pool_strings.len();
        pool.extend_from_slice(&(size as u32).to_le_bytes());
        pool.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        pool.extend_from_slice(&0u32.to_le_bytes());
        pool.extend_from_slice(&0u32.to_le_bytes());
        pool.extend_from_slice(&start.to_le_bytes());
        pool.extend_from_slice(&0u32.to_le_bytes());
        for o in offsets {
            pool.extend_from_slice(&o.to_le_bytes());
        }
        pool.extend_from_slice(&pool_strings);

        let mut el = Vec::new();
        el.extend_from_slice(&RES_XML_START_ELEMENT_TYPE.to_le_bytes());
        el.extend_from_slice(&16u16.to_le_bytes());
        el.extend_from_slice(&(16u32 + 20 + 2 * 20).to_le_bytes());
        el.extend_from_slice(&1u32.to_le_bytes()); // line
        el.extend_from_slice(&NO_INDEX.to_le_bytes()); // comment
        el.extend_from_slice(&NO_INDEX.to_le_bytes()); // ns
        el.extend_from_slice(&0u32.to_le_bytes()); // name: meta-data
        el.extend_from_slice(&20u16.to_le_bytes()); // attributeStart
        el.extend_from_slice(&20u16.to_le_bytes()); // attributeSize
        el.extend_from_slice(&2u16.to_le_bytes()); // count
        el.extend_from_slice(&[0; 6]);
        for (attr, val) in [(1u32, 3u32), (2, 4)] {
            el.extend_from_slice(&NO_INDEX.to_le_bytes());
            el.extend_from_slice(&attr.to_le_bytes());
            el.extend_from_slice(&val.to_le_bytes());
            el.extend_from_slice(&8u16.to_le_bytes());
            el.push(0);
            el.push(0x03);
            el.extend_from_slice(&val.to_le_bytes());
        }
        let mut doc = Vec::new();
        doc.extend_from_slice(&RES_XML_TYPE.to_le_bytes());
        doc.extend_from_slice(&8u16.to_le_bytes());
        doc.extend_from_slice(&((8 + pool.len() + el.len()) as u32).to_le_bytes());
        doc.extend_from_slice(&pool);
        doc.extend_from_slice(&el);
        doc
    }

    #[test]
    fn meta_data_reads_back_as_text_and_garbage_never_panics() {
        let doc = manifest("CYBRID_CLIENT_SECRET", "s3cr3t-value");
        assert!(is_binary_xml(&doc));
        let text = String::from_utf8(decode(&doc).expect("decoded")).expect("utf-8");
        assert!(
            text.contains(
                r#"<meta-data android:name="CYBRID_CLIENT_SECRET" android:value="s3cr3t-value">"#
            ),
            "{text}"
        );
        for cut in 0..doc.len() {
            let _ = decode(&doc[..cut]);
        }
        let mut flipped = doc.clone();
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = decode(&flipped);
            flipped[i] ^= 0xff;
        }
    }
}
