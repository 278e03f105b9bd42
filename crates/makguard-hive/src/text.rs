//! Text decoding and name comparison: UTF-16LE and Latin-1 ("compressed")
//! names, `REG_SZ` / `REG_MULTI_SZ` payloads, and the case-insensitive name
//! matching used for key and value lookups.
//!
//! Decoding never fails: registry strings written by buggy software contain
//! unpaired surrogates and odd byte counts, and a scanner must still see the
//! rest of the text.

/// Decodes UTF-16LE bytes up to (not including) the first NUL code unit.
///
/// Unpaired surrogates become U+FFFD; a trailing odd byte is ignored. This is
/// how `REG_SZ` / `REG_EXPAND_SZ` data is meant to be read: the stored size often
/// includes the terminator and sometimes garbage after it.
pub fn decode_utf16le_lossy(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .take_while(|&unit| unit != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Decodes all UTF-16LE bytes (embedded NULs kept), for names whose length is
/// stored explicitly.
pub(crate) fn decode_utf16le_all(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Decodes a "compressed" name: each byte is the low byte of a UTF-16 code
/// unit whose high byte is zero, i.e. Latin-1.
pub(crate) fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Splits `REG_MULTI_SZ` data into its strings.
///
/// The list is NUL-separated and ends with an empty string; trailing empty
/// strings (the terminator and any padding) are dropped, while empty strings
/// *between* non-empty ones are kept so that nothing stored is hidden.
pub(crate) fn decode_multi_sz(bytes: &[u8]) -> Vec<String> {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    let mut out: Vec<String> = units
        .split(|&u| u == 0)
        .map(|part| {
            char::decode_utf16(part.iter().copied())
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        })
        .collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// Simple (one-to-one) lowercase mapping: ASCII plus every character whose
/// Unicode lowercase is a single character. Characters that would expand
/// (e.g. U+0130) are left unchanged, which keeps comparisons length-stable.
fn simple_lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Case-insensitive name equality as used for key and value lookups.
pub(crate) fn names_equal(a: &str, b: &str) -> bool {
    a.chars().map(simple_lower).eq(b.chars().map(simple_lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn sz_stops_at_nul_and_ignores_odd_byte() {
        let mut b = utf16("abc\0junk");
        b.push(0x41);
        assert_eq!(decode_utf16le_lossy(&b), "abc");
        assert_eq!(decode_utf16le_lossy(&[0x41]), "");
        assert_eq!(decode_utf16le_lossy(&[0x00, 0xD8, 0x41, 0x00]), "\u{FFFD}A");
    }

    #[test]
    fn multi_sz_keeps_inner_empties_drops_trailing() {
        assert_eq!(decode_multi_sz(&utf16("a\0b\0\0")), vec!["a", "b"]);
        assert_eq!(decode_multi_sz(&utf16("a\0\0b\0\0\0\0")), vec!["a", "", "b"]);
        assert!(decode_multi_sz(&[]).is_empty());
        assert_eq!(decode_multi_sz(&utf16("x")), vec!["x"]);
    }

    #[test]
    fn names_compare_case_insensitively() {
        assert!(names_equal("Microsoft", "MICROSOFT"));
        assert!(names_equal("Ünïcödé", "üNÏCÖDÉ"));
        assert!(names_equal("ΣΊΣΥΦΟΣ", "σίσυφοσ"));
        assert!(!names_equal("abc", "abcd"));
        assert!(names_equal("İ", "İ"));
    }
}
