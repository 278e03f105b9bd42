//! Decoding file bytes to text and back, losslessly, and mapping byte offsets in the decoded
//! text to lines and columns.
//!
//! Answer files come as UTF-8 (with or without a BOM), UTF-16 and UTF-32 (LE or BE, with or
//! without a BOM); scripts also come in the local ANSI code page. Findings carry byte ranges
//! into the decoded UTF-8 text, and the fixer re-encodes the edited text with the same
//! [`TextEncoding`], so decoding must round-trip byte for byte whenever
//! [`DecodedText::is_lossless`] says so.
//!
//! An XML file that says (by its signature bytes or its `encoding` declaration) that it is in
//! an encoding makguard does not decode carries [`DecodedText::unsupported_encoding`]: its
//! text is not what the file means, so scanners report it rather than trust what they read.

/// How a file's bytes were turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 after the byte-order mark `EF BB BF`.
    Utf8Bom,
    /// UTF-16, little-endian.
    Utf16Le {
        /// The file starts with the byte-order mark `FF FE`.
        bom: bool,
    },
    /// UTF-16, big-endian.
    Utf16Be {
        /// The file starts with the byte-order mark `FE FF`.
        bom: bool,
    },
    /// UTF-32, little-endian.
    Utf32Le {
        /// The file starts with the byte-order mark `FF FE 00 00`.
        bom: bool,
    },
    /// UTF-32, big-endian.
    Utf32Be {
        /// The file starts with the byte-order mark `00 00 FE FF`.
        bom: bool,
    },
    /// Bytes that are not UTF-8, read one byte to one character (U+0000..U+00FF). Key
    /// characters are ASCII, so this finds them in any single-byte code page and writes
    /// every other byte back unchanged.
    SingleByte,
}

impl TextEncoding {
    /// The name used in reports, e.g. `utf-16le-bom`.
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le { bom: true } => "utf-16le-bom",
            TextEncoding::Utf16Le { bom: false } => "utf-16le",
            TextEncoding::Utf16Be { bom: true } => "utf-16be-bom",
            TextEncoding::Utf16Be { bom: false } => "utf-16be",
            TextEncoding::Utf32Le { bom: true } => "utf-32le-bom",
            TextEncoding::Utf32Le { bom: false } => "utf-32le",
            TextEncoding::Utf32Be { bom: true } => "utf-32be-bom",
            TextEncoding::Utf32Be { bom: false } => "utf-32be",
            TextEncoding::SingleByte => "single-byte",
        }
    }

    /// True for either byte order of UTF-16.
    pub fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16Le { .. } | TextEncoding::Utf16Be { .. })
    }

    /// True for either byte order of UTF-32.
    pub fn is_utf32(self) -> bool {
        matches!(self, TextEncoding::Utf32Le { .. } | TextEncoding::Utf32Be { .. })
    }

    /// Bytes of the byte-order mark this encoding writes.
    pub fn bom_len(self) -> usize {
        match self {
            TextEncoding::Utf8Bom => 3,
            TextEncoding::Utf16Le { bom: true } | TextEncoding::Utf16Be { bom: true } => 2,
            TextEncoding::Utf32Le { bom: true } | TextEncoding::Utf32Be { bom: true } => 4,
            _ => 0,
        }
    }
}

/// A file's text with the encoding it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText {
    /// The decoded text; findings' [`crate::TextRange`]s index it.
    pub text: String,
    /// The encoding the bytes came in, and the one the fixer writes back.
    pub encoding: TextEncoding,
    /// False when some bytes could not be represented (an odd trailing byte or an unpaired
    /// surrogate in UTF-16); such text must not be rewritten.
    lossless: bool,
    /// Set when the file says it is in an encoding makguard does not decode.
    unsupported: Option<String>,
}

impl DecodedText {
    /// True when re-encoding the text gives the file's bytes back and the text is what the
    /// file means (never for an unsupported encoding).
    pub fn is_lossless(&self) -> bool {
        self.lossless && self.unsupported.is_none()
    }

    /// True when every byte decoded to a character (an odd trailing byte, an unpaired
    /// surrogate or invalid UTF-8 after a UTF-8 BOM make this false).
    pub fn bytes_decoded_cleanly(&self) -> bool {
        self.lossless
    }

    /// Why the text is not what the file means: it declares (or its signature shows) an
    /// encoding makguard does not decode, e.g. `the file declares encoding "IBM037"`.
    pub fn unsupported_encoding(&self) -> Option<&str> {
        self.unsupported.as_deref()
    }
}

/// Decodes `bytes`, detecting the encoding from a BOM, then from the `<` of BOM-less UTF-32
/// XML, then from the NUL pattern of BOM-less UTF-16, then UTF-8 validity, falling back to
/// single-byte; and notes when an XML signature or declaration names an encoding that
/// reading does not honour.
pub fn decode(bytes: &[u8]) -> DecodedText {
    let mut decoded = decode_by_signature(bytes);
    decoded.unsupported = unsupported_signature(bytes).or_else(|| declared_encoding_problem(&decoded));
    decoded
}

fn decode_by_signature(bytes: &[u8]) -> DecodedText {
    // UTF-32LE's BOM starts with UTF-16LE's; a UTF-16 text cannot start with U+0000.
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE\x00\x00") {
        return decode_utf32(rest, false, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\x00\x00\xFE\xFF") {
        return decode_utf32(rest, true, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_utf8_or_single_byte(rest, TextEncoding::Utf8Bom);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return decode_utf16(rest, false, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return decode_utf16(rest, true, true);
    }
    // XML's own signature (XML 1.0 Appendix F): a document starts with `<`.
    if bytes.starts_with(b"<\x00\x00\x00") {
        return decode_utf32(bytes, false, false);
    }
    if bytes.starts_with(b"\x00\x00\x00<") {
        return decode_utf32(bytes, true, false);
    }
    match bomless_utf16(bytes) {
        Some(big_endian) => decode_utf16(bytes, big_endian, false),
        None => decode_utf8_or_single_byte(bytes, TextEncoding::Utf8),
    }
}

/// XML signatures (XML 1.0 Appendix F) of encodings makguard does not decode.
fn unsupported_signature(bytes: &[u8]) -> Option<String> {
    let what = match bytes.get(..4)? {
        // `<?xm` in EBCDIC; code pages differ, `<?xm` does not.
        [0x4C, 0x6F, 0xA7, 0x94] => "EBCDIC",
        [0x00, 0x00, 0x3C, 0x00] | [0x00, 0x3C, 0x00, 0x00] | [0x00, 0x00, 0xFF, 0xFE] | [0xFE, 0xFF, 0x00, 0x00] => {
            "UCS-4 in an unusual byte order"
        }
        _ => return None,
    };
    Some(format!("the file's first bytes are XML in {what}"))
}

/// The problem with an XML declaration's `encoding`, when reading did not honour it.
fn declared_encoding_problem(decoded: &DecodedText) -> Option<String> {
    let declared = declared_xml_encoding(&decoded.text)?;
    let support = declared_encoding_support(declared);
    let honoured = match support {
        DeclaredEncoding::Utf32 => decoded.encoding.is_utf32(),
        DeclaredEncoding::Unicode | DeclaredEncoding::AsciiCompatible => true,
        DeclaredEncoding::Unsupported => false,
    };
    (!honoured).then(|| {
        let shown: String = declared.chars().take(40).collect();
        if support == DeclaredEncoding::Utf32 {
            format!(
                "the file declares encoding \"{shown}\" but its bytes are not UTF-32 (read as {})",
                decoded.encoding.name()
            )
        } else {
            format!("the file declares encoding \"{shown}\", which makguard does not decode")
        }
    })
}

/// How a declared encoding relates to what makguard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredEncoding {
    /// UTF-32 / UCS-4: only right when the bytes were read as UTF-32.
    Utf32,
    /// UTF-8, UTF-16, UCS-2: read from the BOM or byte pattern, whatever the declaration.
    Unicode,
    /// An encoding in which every ASCII character is its ASCII byte (ISO 8859, Windows and DOS
    /// code pages, KOI8, Mac, and the multi-byte EUC, `Shift_JIS`, GBK/GB18030, Big5 and UHC
    /// encodings): key characters are ASCII, so reading byte by byte finds every key.
    AsciiCompatible,
    /// EBCDIC, UTF-7, ISO-2022, HZ, and every name not listed: an ASCII key need not be
    /// ASCII bytes there.
    Unsupported,
}

/// Whether makguard reads a file in the encoding an XML declaration names (any case).
pub fn declared_encoding_support(name: &str) -> DeclaredEncoding {
    let name = name.trim().to_ascii_lowercase().replace('_', "-");
    let digits_after = |prefix: &str| {
        name.strip_prefix(prefix)
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    };
    match name.as_str() {
        "utf-32" | "utf-32le" | "utf-32be" | "utf32" | "ucs-4" | "iso-10646-ucs-4" => return DeclaredEncoding::Utf32,
        "utf-8" | "utf8" | "utf-16" | "utf-16le" | "utf-16be" | "utf16" | "ucs-2" | "iso-10646-ucs-2" | "unicode"
        | "unicodefffe" => return DeclaredEncoding::Unicode,
        "us-ascii" | "ascii" | "latin1" | "latin-1" | "l1" | "koi8-r" | "koi8-u" | "macintosh" | "x-mac-roman"
        | "shift-jis" | "sjis" | "windows-31j" | "x-sjis" | "euc-jp" | "euc-kr" | "euc-cn" | "gb2312" | "gbk"
        | "gb18030" | "big5" | "big5-hkscs" | "ks-c-5601-1987" | "tis-620" => {
            return DeclaredEncoding::AsciiCompatible;
        }
        _ => {}
    }
    let iso_8859 = digits_after("iso-8859-").or_else(|| digits_after("iso8859-"));
    let windows = digits_after("windows-")
        .or_else(|| digits_after("cp"))
        .or_else(|| digits_after("ibm"));
    let ascii_compatible =
        iso_8859.is_some() || windows.is_some_and(|number| ASCII_COMPATIBLE_CODE_PAGES.contains(&number));
    if ascii_compatible {
        DeclaredEncoding::AsciiCompatible
    } else {
        DeclaredEncoding::Unsupported
    }
}

/// Windows and DOS code page numbers whose first 128 characters are ASCII. EBCDIC pages
/// (037, 500, 875, 1026, 1047, 1140–1149, …) are deliberately absent.
const ASCII_COMPATIBLE_CODE_PAGES: &[&str] = &[
    "437", "708", "720", "737", "775", "850", "852", "855", "857", "858", "860", "861", "862", "863", "864", "865",
    "866", "869", "874", "932", "936", "949", "950", "1250", "1251", "1252", "1253", "1254", "1255", "1256", "1257",
    "1258",
];

/// The `encoding` of the XML declaration that opens `text`, if there is one.
pub fn declared_xml_encoding(text: &str) -> Option<&str> {
    let body = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let declaration = body.strip_prefix("<?xml")?;
    if !declaration.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let end = declaration.get(..declaration.len().min(1024))?.find("?>")?;
    let declaration = &declaration[..end];
    let at = declaration.find("encoding")?;
    let rest = declaration[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|&c| c == '"' || c == '\'')?;
    let value = &rest[1..];
    Some(&value[..value.find(quote)?])
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
            unsupported: None,
        },
        Err(_) if utf8 == TextEncoding::Utf8 => DecodedText {
            text: bytes.iter().map(|&b| char::from(b)).collect(),
            encoding: TextEncoding::SingleByte,
            lossless: true,
            unsupported: None,
        },
        // A BOM promised UTF-8; keep what decodes and refuse to rewrite the rest.
        Err(_) => DecodedText {
            text: String::from_utf8_lossy(bytes).into_owned(),
            encoding: utf8,
            lossless: false,
            unsupported: None,
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
        unsupported: None,
    }
}

fn decode_utf32(bytes: &[u8], big_endian: bool, bom: bool) -> DecodedText {
    let mut lossless = bytes.len().is_multiple_of(4);
    let text: String = bytes
        .chunks_exact(4)
        .map(|quad| {
            let quad = [quad[0], quad[1], quad[2], quad[3]];
            let unit = if big_endian {
                u32::from_be_bytes(quad)
            } else {
                u32::from_le_bytes(quad)
            };
            char::from_u32(unit).unwrap_or_else(|| {
                lossless = false;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    let encoding = if big_endian {
        TextEncoding::Utf32Be { bom }
    } else {
        TextEncoding::Utf32Le { bom }
    };
    DecodedText {
        text,
        encoding,
        lossless,
        unsupported: None,
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
        TextEncoding::Utf32Le { bom } | TextEncoding::Utf32Be { bom } => {
            let big_endian = matches!(encoding, TextEncoding::Utf32Be { .. });
            let mut out = Vec::with_capacity(text.len() * 4 + 4);
            let to_bytes = |unit: u32| {
                if big_endian {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                }
            };
            if bom {
                out.extend_from_slice(&to_bytes(0xFEFF));
            }
            for c in text.chars() {
                out.extend_from_slice(&to_bytes(u32::from(c)));
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
    /// Indexes `text`'s line starts and character counts.
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
        for (big_endian, bom) in [(false, true), (true, true), (false, false), (true, false)] {
            let encoding = if big_endian {
                TextEncoding::Utf32Be { bom }
            } else {
                TextEncoding::Utf32Le { bom }
            };
            round_trip(&encode(text, encoding).unwrap(), encoding);
        }
    }

    #[test]
    fn utf32_is_read_from_its_bom_or_its_xml_signature() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-32\"?><a>😀</a>";
        let le: Vec<u8> = text.chars().flat_map(|c| u32::from(c).to_le_bytes()).collect();
        let be: Vec<u8> = text.chars().flat_map(|c| u32::from(c).to_be_bytes()).collect();
        let with_bom = |bom: [u8; 4], body: &[u8]| [bom.as_slice(), body].concat();
        for (bytes, encoding) in [
            (with_bom([0xFF, 0xFE, 0, 0], &le), TextEncoding::Utf32Le { bom: true }),
            (with_bom([0, 0, 0xFE, 0xFF], &be), TextEncoding::Utf32Be { bom: true }),
            (le.clone(), TextEncoding::Utf32Le { bom: false }),
            (be.clone(), TextEncoding::Utf32Be { bom: false }),
        ] {
            let decoded = decode(&bytes);
            assert_eq!((decoded.encoding, decoded.text.as_str()), (encoding, text));
            assert!(decoded.is_lossless() && decoded.unsupported_encoding().is_none());
        }
        let mut truncated = le.clone();
        truncated.pop();
        assert!(!decode(&truncated).is_lossless());
    }

    #[test]
    fn encodings_makguard_does_not_decode_are_flagged() {
        let ebcdic_declaration = [0x4C, 0x6F, 0xA7, 0x94, 0x93, 0x40];
        assert!(
            decode(&ebcdic_declaration)
                .unsupported_encoding()
                .unwrap()
                .contains("EBCDIC")
        );
        for name in [
            "IBM037",
            "ibm500",
            "cp1140",
            "UTF-7",
            "ISO-2022-JP",
            "hz-gb-2312",
            "x-made-up",
        ] {
            let text = format!("<?xml version='1.0' encoding='{name}'?><a/>");
            let decoded = decode(text.as_bytes());
            let problem = decoded.unsupported_encoding().unwrap_or_else(|| panic!("{name}"));
            assert!(problem.contains(name), "{problem}");
            assert!(!decoded.is_lossless(), "an unsupported file is never rewritten");
        }
        let utf32_declared_ascii = "<?xml version=\"1.0\" encoding=\"utf-32\"?><a/>";
        assert!(
            decode(utf32_declared_ascii.as_bytes())
                .unsupported_encoding()
                .unwrap()
                .contains("not UTF-32")
        );
        for name in [
            "utf-8",
            "UTF-16",
            "windows-1252",
            "ISO-8859-15",
            "us-ascii",
            "shift_jis",
            "IBM850",
            "cp1251",
        ] {
            let text = format!("<?xml version=\"1.0\" encoding=\"{name}\"?><a/>");
            assert_eq!(decode(text.as_bytes()).unsupported_encoding(), None, "{name}");
        }
        assert_eq!(declared_xml_encoding("<?xml version=\"1.0\"?><a encoding='x'/>"), None);
        assert_eq!(declared_xml_encoding("<?xml-stylesheet encoding='x'?>"), None);
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
