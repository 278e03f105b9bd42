//! Decoding file bytes to text and back, losslessly, and mapping byte offsets in the decoded
//! text to lines and columns.
//!
//! Answer files come as UTF-8 (with or without a BOM) and UTF-16 (LE or BE, with or without a
//! BOM); scripts also come in the local ANSI code page. Findings carry byte ranges into the
//! decoded UTF-8 text, and the fixer re-encodes the edited text with the same [`TextEncoding`],
//! so decoding must round-trip byte for byte whenever [`DecodedText::is_lossless`] says so.

/// How a file's bytes were turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    Utf8,
    Utf8Bom,
    Utf16Le {
        bom: bool,
    },
    Utf16Be {
        bom: bool,
    },
    /// Bytes that are not UTF-8, read one byte to one character (U+0000..U+00FF). Key
    /// characters are ASCII, so this finds them in any single-byte code page and writes
    /// every other byte back unchanged.
    SingleByte,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le { bom: true } => "utf-16le-bom",
            TextEncoding::Utf16Le { bom: false } => "utf-16le",
            TextEncoding::Utf16Be { bom: true } => "utf-16be-bom",
            TextEncoding::Utf16Be { bom: false } => "utf-16be",
            TextEncoding::SingleByte => "single-byte",
        }
    }

    pub fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16Le { .. } | TextEncoding::Utf16Be { .. })
    }
}

/// A file's text with the encoding it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText {
    pub text: String,
    pub encoding: TextEncoding,
    /// False when some bytes could not be represented (an odd trailing byte or an unpaired
    /// surrogate in UTF-16); such text must not be rewritten.
    lossless: bool,
}

impl DecodedText {
    pub fn is_lossless(&self) -> bool {
        self.lossless
    }
}

/// Decodes `bytes`, detecting the encoding from a BOM, then from the NUL pattern of BOM-less
/// UTF-16, then UTF-8 validity, falling back to single-byte.
pub fn decode(bytes: &[u8]) -> DecodedText {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_utf8_or_single_byte(rest, TextEncoding::Utf8Bom);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return decode_utf16(rest, false, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return decode_utf16(rest, true, true);
    }
    match bomless_utf16(bytes) {
        Some(big_endian) => decode_utf16(bytes, big_endian, false),
        None => decode_utf8_or_single_byte(bytes, TextEncoding::Utf8),
    }
}

/// `Some(big_endian)` when the bytes look like UTF-16 without a BOM: mostly-ASCII text has a
/// NUL in every other byte.
fn bomless_utf16(bytes: &[u8]) -> Option<bool> {
    let sample = &bytes[..bytes.len().min(512) & !1];
    if sample.len() < 4 {
        return None;
    }
    let pairs = sample.len() / 2;
    let even_nuls = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_nuls = sample.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if odd_nuls * 10 >= pairs * 7 && even_nuls * 10 <= pairs {
        Some(false)
    } else if even_nuls * 10 >= pairs * 7 && odd_nuls * 10 <= pairs {
        Some(true)
    } else {
        None
    }
}

fn decode_utf8_or_single_byte(bytes: &[u8], utf8: TextEncoding) -> DecodedText {
    match std::str::from_utf8(bytes) {
        Ok(text) => DecodedText {
            text: text.to_string(),
            encoding: utf8,
            lossless: true,
        },
        Err(_) if utf8 == TextEncoding::Utf8 => DecodedText {
            text: bytes.iter().map(|&b| char::from(b)).collect(),
            encoding: TextEncoding::SingleByte,
            lossless: true,
        },
        // A BOM promised UTF-8; keep what decodes and refuse to rewrite the rest.
        Err(_) => DecodedText {
            text: String::from_utf8_lossy(bytes).into_owned(),
            encoding: utf8,
            lossless: false,
        },
    }
}

fn decode_utf16(bytes: &[u8], big_endian: bool, bom: bool) -> DecodedText {
    let units = bytes.chunks_exact(2).map(|pair| {
        if big_endian {
            u16::from_be_bytes([pair[0], pair[1]])
        } else {
            u16::from_le_bytes([pair[0], pair[1]])
        }
    });
    let mut lossless = bytes.len().is_multiple_of(2);
    let text: String = char::decode_utf16(units)
        .map(|unit| {
            unit.unwrap_or_else(|_| {
                lossless = false;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    let encoding = if big_endian {
        TextEncoding::Utf16Be { bom }
    } else {
        TextEncoding::Utf16Le { bom }
    };
    DecodedText {
        text,
        encoding,
        lossless,
    }
}

/// Encodes `text` as `encoding`, BOM included. `None` when the text holds a character the
/// encoding cannot carry (only possible for [`TextEncoding::SingleByte`]).
pub fn encode(text: &str, encoding: TextEncoding) -> Option<Vec<u8>> {
    match encoding {
        TextEncoding::Utf8 => Some(text.as_bytes().to_vec()),
        TextEncoding::Utf8Bom => {
            let mut out = b"\xEF\xBB\xBF".to_vec();
            out.extend_from_slice(text.as_bytes());
            Some(out)
        }
        TextEncoding::Utf16Le { bom } | TextEncoding::Utf16Be { bom } => {
            let big_endian = matches!(encoding, TextEncoding::Utf16Be { .. });
            let mut out = Vec::with_capacity(text.len() * 2 + 2);
            if bom {
                out.extend_from_slice(if big_endian { b"\xFE\xFF" } else { b"\xFF\xFE" });
            }
            for unit in text.encode_utf16() {
                out.extend_from_slice(&if big_endian {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                });
            }
            Some(out)
        }
        TextEncoding::SingleByte => text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect(),
    }
}

/// Bytes per block of [`LineIndex`]'s character counts: a column costs at most this many
/// byte reads, however long the line.
const CHAR_COUNT_BLOCK: usize = 256;

/// Maps byte offsets in a text to 1-based lines and columns (columns count characters).
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    /// Characters before each `CHAR_COUNT_BLOCK`-byte boundary, so that a file that is one
    /// long line with many findings is not scanned quadratically.
    chars_before_block: Vec<usize>,
    text_len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let bytes = text.as_bytes();
        let mut chars_before_block = Vec::with_capacity(bytes.len() / CHAR_COUNT_BLOCK + 1);
        let mut chars = 0;
        for block in 0..=bytes.len() / CHAR_COUNT_BLOCK {
            chars_before_block.push(chars);
            let end = ((block + 1) * CHAR_COUNT_BLOCK).min(bytes.len());
            chars += count_chars(&bytes[block * CHAR_COUNT_BLOCK..end]);
        }
        LineIndex {
            line_starts,
            chars_before_block,
            text_len: text.len(),
        }
    }

    /// The 1-based line and column of byte `offset` in `text` (the text this index was built from).
    pub fn line_col(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = offset.min(text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let start = self.line_starts[line];
        let column = match (self.chars_before(text, start), self.chars_before(text, offset)) {
            (Some(before_start), Some(before_offset)) if text.is_char_boundary(offset) => before_offset - before_start,
            _ => text.get(start..offset).map_or(offset - start, |s| s.chars().count()),
        };
        (to_u32(line + 1), to_u32(column + 1))
    }

    /// Characters in `text[..offset]`; `None` if `text` is not the text this index was built from.
    fn chars_before(&self, text: &str, offset: usize) -> Option<usize> {
        if text.len() != self.text_len {
            return None;
        }
        let block = offset / CHAR_COUNT_BLOCK;
        let base = *self.chars_before_block.get(block)?;
        Some(base + count_chars(text.as_bytes().get(block * CHAR_COUNT_BLOCK..offset)?))
    }
}

/// Characters that start in `bytes` (UTF-8 continuation bytes do not start one).
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8], expected: TextEncoding) {
        let decoded = decode(bytes);
        assert_eq!(decoded.encoding, expected);
        assert!(decoded.is_lossless());
        assert_eq!(encode(&decoded.text, decoded.encoding).unwrap(), bytes);
    }

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let encoding = if big_endian {
            TextEncoding::Utf16Be { bom }
        } else {
            TextEncoding::Utf16Le { bom }
        };
        encode(text, encoding).unwrap()
    }

    #[test]
    fn every_encoding_round_trips() {
        let text = "<?xml version=\"1.0\"?>\r\n<a>Ünïcode key</a>\r\n";
        round_trip(text.as_bytes(), TextEncoding::Utf8);
        round_trip(
            &[b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            TextEncoding::Utf8Bom,
        );
        round_trip(&utf16(text, false, true), TextEncoding::Utf16Le { bom: true });
        round_trip(&utf16(text, true, true), TextEncoding::Utf16Be { bom: true });
        round_trip(&utf16(text, false, false), TextEncoding::Utf16Le { bom: false });
        round_trip(&utf16(text, true, false), TextEncoding::Utf16Be { bom: false });
        round_trip(b"echo caf\xE9 & slmgr /ipk\r\n", TextEncoding::SingleByte);
    }

    #[test]
    fn unpaired_surrogate_is_not_lossless() {
        let decoded = decode(&[0xFF, 0xFE, 0x00, 0xD8, b'a', 0]);
        assert!(!decoded.is_lossless());
    }

    #[test]
    fn columns_on_long_lines_match_a_plain_character_count() {
        let text = format!("é\n{}x{}\n", "aç€😀".repeat(300), "b".repeat(700));
        let index = LineIndex::new(&text);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
            let expected = text[line_start..offset].chars().count() as u32 + 1;
            assert_eq!(index.line_col(&text, offset).1, expected, "offset {offset}");
        }
    }

    #[test]
    fn line_columns_count_characters() {
        let text = "ab\r\nçd KEY\nx";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 0), (1, 1));
        let key = text.find("KEY").unwrap();
        assert_eq!(index.line_col(text, key), (2, 4));
        assert_eq!(index.line_col(text, text.len()), (3, 2));
    }
}
