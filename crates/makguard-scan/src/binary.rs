//! `--deep`: any file searched as bytes for keys in ASCII and in UTF-16 (LE or BE), in
//! overlapping chunks so memory stays bounded whatever the file size (`MG251`).
//!
//! Binaries hold many accidental 5×5 runs, so only post-2009 keys whose checksum validates
//! are reported anywhere; other keys only right after a key word. A dashed key whose checksum
//! validates stands on its own whatever bytes touch it (binary data glues strings to
//! anything); any other key must stand alone, judged in its own encoding. Key symbols must be
//! upper case here. Each distinct key is reported once per file, at its first offset.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::OnceLock;

use makguard_core::classify::is_placeholder;
use makguard_core::rules::BINARY_NON_KMS_KEY;
use makguard_core::{ByteRange, Checksum, Finding, KeyInfo, ProductKey, classify_key};
use regex::bytes::Regex;

use crate::FileContext;
use crate::keyscan::{is_key_symbol, key_symbol_class, key_word_before};

/// Bytes read per chunk.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Bytes of the previous chunk kept before the next one: more than a UTF-16 dashed key (58
/// bytes) plus the 80 characters of key-word context before it (160 bytes in UTF-16).
pub const OVERLAP: usize = 512;
/// A match must end this far before a chunk's end to be judged in that chunk, so the bytes
/// after it (which decide whether it stands alone) are known; the next chunk judges the rest.
const GUARD: usize = 8;

/// The prefilter's block size. A key in any of the searched forms puts its 25 symbol bytes
/// within at most 58 bytes (UTF-16, with dashes), so it touches at most three blocks, and one of
/// those holds at least nine of its symbols. Only blocks with that many symbol bytes ("hot"
/// blocks, rare in binary data) and the bytes around them go to the regex, which is what makes
/// `--deep` fast: the regex has no literal to skip ahead to.
const BLOCK: usize = 32;
const HOT_BLOCK_SYMBOLS: usize = 9;
/// Bytes searched on each side of a hot block: more than the longest match (58 bytes), so every
/// match that touches a hot block lies wholly inside its region.
const MARGIN: usize = 64;

const fn symbol_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < table.len() {
        table[byte] = is_key_symbol(byte as u8);
        byte += 1;
    }
    table
}

static IS_SYMBOL: [bool; 256] = symbol_table();

/// The parts of `buffer` that may hold a key, as merged, non-overlapping ranges in order.
fn hot_regions(buffer: &[u8]) -> Vec<(usize, usize)> {
    let mut regions: Vec<(usize, usize)> = Vec::new();
    for (index, block) in buffer.chunks(BLOCK).enumerate() {
        let symbols = block.iter().filter(|&&b| IS_SYMBOL[usize::from(b)]).count();
        if symbols < HOT_BLOCK_SYMBOLS {
            continue;
        }
        let start = (index * BLOCK).saturating_sub(MARGIN);
        let end = (index * BLOCK + block.len() + MARGIN).min(buffer.len());
        match regions.last_mut() {
            // Touching regions merge, so no match can straddle two of them.
            Some(last) if start <= last.1 => last.1 = end,
            _ => regions.push((start, end)),
        }
    }
    regions
}

/// True when some block of `bytes` is hot counting key symbols of either case: the text rule's
/// prefilter. A key in decoded (UTF-8) text puts its 25 symbols in 29 consecutive bytes, so the
/// same argument as for [`hot_regions`] holds, and text with no hot block holds no key.
pub(crate) fn may_hold_key_any_case(bytes: &[u8]) -> bool {
    bytes.chunks(BLOCK).any(|block| {
        block
            .iter()
            .filter(|&&b| IS_SYMBOL[usize::from(b.to_ascii_uppercase())])
            .count()
            >= HOT_BLOCK_SYMBOLS
    })
}

/// Every regex match in `buffer`, as absolute ranges, found through the hot regions only (the
/// prefilter's contract, which the tests check against a plain pass).
#[cfg(test)]
fn key_matches(buffer: &[u8]) -> Vec<(usize, usize)> {
    hot_regions(buffer)
        .into_iter()
        .flat_map(|(start, end)| {
            key_regex()
                .find_iter(&buffer[start..end])
                .map(move |m| (start + m.start(), start + m.end()))
        })
        .collect()
}

fn key_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let s = key_symbol_class(false);
        let le = format!("(?:{s}\\x00)");
        let be = format!("(?:\\x00{s})");
        let pattern = format!(
            "(?-u){s}{{5}}(?:-{s}{{5}}){{4}}|{s}{{25}}|{le}{{5}}(?:-\\x00{le}{{5}}){{4}}|{le}{{25}}|{be}{{5}}(?:\\x00-{be}{{5}}){{4}}|{be}{{25}}"
        );
        Regex::new(&pattern).expect("static regex")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Ascii,
    Utf16,
}

struct Occurrence {
    first_offset: u64,
    /// Just past the last key character byte of the first occurrence.
    first_end: u64,
    encoding: Encoding,
    count: u64,
    /// Offsets of the first key character seen so far (up to [`MAX_REMEMBERED_OFFSETS`]): a
    /// UTF-16LE key between zero bytes also reads as UTF-16BE one byte earlier, with its first
    /// character at the same byte, and is one occurrence, not two.
    offsets: std::collections::HashSet<u64>,
}

/// How many occurrence offsets of one key are remembered to tell readings of the same bytes
/// apart; past that each further match counts (bounded memory whatever the file holds).
const MAX_REMEMBERED_OFFSETS: usize = 4096;

/// Searches everything `reader` yields, pushing one `MG251` finding per reportable key to
/// `findings` (also when reading fails part-way). Returns the bytes read.
///
/// # Errors
///
/// The first error `reader` returns (other than `Interrupted`); the findings made from the
/// bytes before it are kept.
pub fn scan_reader<R: Read>(reader: R, ctx: &FileContext<'_>, findings: &mut Vec<Finding>) -> io::Result<u64> {
    scan_reader_in_chunks(reader, ctx, findings, CHUNK_SIZE)
}

/// [`scan_reader`] for a file of about `size_hint` bytes: the buffer is sized for it up front, so
/// a small file is read in one system call instead of a series of growing ones.
pub(crate) fn scan_reader_sized<R: Read>(
    reader: R,
    ctx: &FileContext<'_>,
    findings: &mut Vec<Finding>,
    size_hint: u64,
) -> io::Result<u64> {
    let capacity = usize::try_from(size_hint).unwrap_or(CHUNK_SIZE).min(CHUNK_SIZE) + OVERLAP + 1;
    scan_chunks(reader, ctx, findings, CHUNK_SIZE, Vec::with_capacity(capacity))
}

/// [`scan_reader`] with a given chunk size (tests use small chunks to cross boundaries).
///
/// # Errors
///
/// As [`scan_reader`].
pub fn scan_reader_in_chunks<R: Read>(
    reader: R,
    ctx: &FileContext<'_>,
    findings: &mut Vec<Finding>,
    chunk_size: usize,
) -> io::Result<u64> {
    scan_chunks(reader, ctx, findings, chunk_size, Vec::new())
}

fn scan_chunks<R: Read>(
    mut reader: R,
    ctx: &FileContext<'_>,
    findings: &mut Vec<Finding>,
    chunk_size: usize,
    mut buffer: Vec<u8>,
) -> io::Result<u64> {
    let chunk_size = chunk_size.max(OVERLAP);
    let mut buffer_offset: u64 = 0;
    let mut carried = 0usize;
    let mut total: u64 = 0;
    let mut keys: HashMap<ProductKey, Occurrence> = HashMap::new();
    let mut first = true;
    let outcome = loop {
        // `read_to_end` fills only what the file holds: a small file costs a small buffer, and
        // on an error the bytes read before it are kept and searched.
        let read = (&mut reader).take(chunk_size as u64).read_to_end(&mut buffer);
        let filled = buffer.len();
        let (eof, error) = match read {
            Ok(n) => (n < chunk_size, None),
            Err(e) => (false, Some(e)),
        };
        total += (filled - carried) as u64;
        let last = eof || error.is_some();
        let judged_from = if first { 0 } else { carried.saturating_sub(GUARD) };
        let judged_to = if last { filled } else { filled.saturating_sub(GUARD) };
        search(&buffer, buffer_offset, judged_from, judged_to, &mut keys);
        first = false;
        if let Some(e) = error {
            break Err(e);
        }
        if last {
            break Ok(total);
        }
        let drop = buffer.len().saturating_sub(OVERLAP);
        buffer.drain(..drop);
        buffer_offset += drop as u64;
        carried = buffer.len();
    };
    let mut found: Vec<(ProductKey, Occurrence)> = keys.into_iter().collect();
    found.sort_by_key(|(_, o)| o.first_offset);
    for (key, occurrence) in found {
        let classification = classify_key(&key, ctx.key_config);
        let encoding = match occurrence.encoding {
            Encoding::Ascii => "ASCII",
            Encoding::Utf16 => "UTF-16",
        };
        let times = if occurrence.count > 1 {
            format!("; {} occurrences", occurrence.count)
        } else {
            String::new()
        };
        let message = format!(
            "A binary file holds {}, a {} ({encoding} at byte offset {}{times})",
            key.display_form(),
            classification.describe(),
            occurrence.first_offset
        );
        findings.push(
            Finding::new(&BINARY_NON_KMS_KEY, ctx.path.clone(), message)
                .at_bytes(ByteRange::new(
                    to_usize(occurrence.first_offset),
                    to_usize(occurrence.first_end),
                ))
                .with_key(KeyInfo::new(key, classification)),
        );
    }
    outcome
}

/// A file offset as a [`ByteRange`] bound; offsets past `usize` cannot occur on the 64-bit
/// targets makguard ships for, and saturate elsewhere.
fn to_usize(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// How a match's characters are laid out in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Ascii,
    /// UTF-16 little-endian: each symbol byte is followed by its zero byte.
    Utf16Le,
    /// UTF-16 big-endian: each symbol byte is preceded by its zero byte.
    Utf16Be,
}

impl Layout {
    fn of(buffer: &[u8], match_start: usize, match_end: usize) -> Layout {
        if !buffer[match_start..match_end].contains(&0) {
            Layout::Ascii
        } else if buffer[match_start] == 0 {
            Layout::Utf16Be
        } else {
            Layout::Utf16Le
        }
    }

    fn step(self) -> usize {
        if self == Layout::Ascii { 1 } else { 2 }
    }

    fn encoding(self) -> Encoding {
        if self == Layout::Ascii {
            Encoding::Ascii
        } else {
            Encoding::Utf16
        }
    }
}

/// Records every reportable key in `buffer` whose match ends in `judged_from..=judged_to`.
///
/// Matches are tried at every start a rejected match leaves (not only where the previous
/// match ended), so a key inside a longer dashed run, or a UTF-16 key whose shifted reading
/// matched first, is still judged on its own.
fn search(
    buffer: &[u8],
    buffer_offset: u64,
    judged_from: usize,
    judged_to: usize,
    keys: &mut HashMap<ProductKey, Occurrence>,
) {
    for (region_start, region_end) in hot_regions(buffer) {
        let region = &buffer[..region_end];
        let mut at = region_start;
        while let Some(found) = key_regex().find_at(region, at) {
            let (match_start, match_end) = (found.start(), found.end());
            let accepted = match_end > judged_from
                && match_end <= judged_to
                && judge(buffer, buffer_offset, match_start, match_end, keys);
            at = if accepted { match_end } else { match_start + 1 };
        }
    }
}

/// Records the key of one match if it is reportable; true when it was.
fn judge(
    buffer: &[u8],
    buffer_offset: u64,
    match_start: usize,
    match_end: usize,
    keys: &mut HashMap<ProductKey, Occurrence>,
) -> bool {
    let layout = Layout::of(buffer, match_start, match_end);
    let symbol_positions: Vec<usize> = (match_start..match_end).filter(|&i| buffer[i] != 0).collect();
    let (Some(&first_symbol), Some(&last_symbol)) = (symbol_positions.first(), symbol_positions.last()) else {
        return false;
    };
    let text: String = symbol_positions.iter().map(|&i| char::from(buffer[i])).collect();
    let Ok(key) = ProductKey::parse(&text) else {
        return false;
    };
    if key.is_gvlk() || is_placeholder(key.reveal_unmasked()) {
        return false;
    }
    let checksummed = key.checksum() == Checksum::Valid;
    // A dashed key whose checksum validates is a key whatever touches it: random bytes
    // almost never form one, and binary data glues strings to anything.
    let stands_on_its_own = text.len() == 29 && checksummed;
    if !stands_on_its_own && !stands_alone(buffer, first_symbol, last_symbol, layout) {
        return false;
    }
    if !checksummed && !key_word_precedes(buffer, first_symbol, layout.step()) {
        return false;
    }
    // The offset of the key's first character byte: unambiguous in either UTF-16 order.
    let offset = buffer_offset + first_symbol as u64;
    let occurrence = keys.entry(key).or_insert_with(|| Occurrence {
        first_offset: offset,
        first_end: buffer_offset + last_symbol as u64 + 1,
        encoding: layout.encoding(),
        count: 0,
        offsets: std::collections::HashSet::new(),
    });
    let new_text = occurrence.offsets.len() >= MAX_REMEMBERED_OFFSETS || occurrence.offsets.insert(offset);
    if new_text {
        occurrence.count += 1;
    }
    true
}

/// The character next to a key, from the byte `symbol` of that character: as ASCII, or as
/// the UTF-16 code unit in the key's own byte order (whatever byte sits beside it).
fn neighbour_char(buffer: &[u8], symbol: Option<usize>, layout: Layout) -> Option<char> {
    let i = symbol?;
    let byte = *buffer.get(i)?;
    let unit = match layout {
        Layout::Ascii => return Some(char::from(byte)),
        Layout::Utf16Le => u16::from_le_bytes([byte, *buffer.get(i + 1)?]),
        Layout::Utf16Be => u16::from_be_bytes([*buffer.get(i.checked_sub(1)?)?, byte]),
    };
    char::from_u32(u32::from(unit))
}

fn joins(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Like the text scanner's rule: no letter, digit or `_` runs into the key, and no `-` that
/// continues a longer dashed run. Neighbours are read in the key's own encoding.
fn stands_alone(buffer: &[u8], first_symbol: usize, last_symbol: usize, layout: Layout) -> bool {
    let step = layout.step();
    let at = |i: Option<usize>| neighbour_char(buffer, i, layout);
    let before = at(first_symbol.checked_sub(step));
    let after = at(last_symbol.checked_add(step));
    if joins(before) || joins(after) {
        return false;
    }
    if before == Some('-') && joins(at(first_symbol.checked_sub(2 * step))) {
        return false;
    }
    if after == Some('-') && joins(at(last_symbol.checked_add(2 * step))) {
        return false;
    }
    true
}

/// The character `step` bytes away from a symbol, in ASCII or either UTF-16 byte order, for
/// the key-word look-behind.
fn neighbour(buffer: &[u8], index: Option<usize>, step: usize) -> Option<u8> {
    let i = index?;
    let byte = *buffer.get(i)?;
    if step == 1 {
        return Some(byte);
    }
    let zero_after = buffer.get(i + 1) == Some(&0);
    let zero_before = i > 0 && buffer[i - 1] == 0;
    (zero_after || zero_before).then_some(byte)
}

/// True when a key word stands just before the key (same rule as in text).
fn key_word_precedes(buffer: &[u8], first_symbol: usize, step: usize) -> bool {
    let mut prefix = Vec::new();
    let mut i = first_symbol;
    while prefix.len() < 160 && i >= step {
        i -= step;
        match neighbour(buffer, Some(i), step) {
            Some(b) if b != 0 => prefix.push(char::from(b)),
            _ => break,
        }
    }
    let text: String = prefix.into_iter().rev().collect();
    key_word_before(&text, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use makguard_core::FindingPath;

    const MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";
    const LEGACY: &str = "Y7BYD-BQG8X-7THCD-3XHD2-JGBRF";
    const GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    fn run(bytes: &[u8], chunk: usize) -> Vec<Finding> {
        let path = FindingPath::new("blob.bin");
        let ctx = FileContext {
            path: &path,
            key_config: None,
        };
        let mut findings = Vec::new();
        let read = scan_reader_in_chunks(bytes, &ctx, &mut findings, chunk).unwrap();
        assert_eq!(read, bytes.len() as u64);
        findings
    }

    proptest::proptest! {
        /// The prefilter never changes what the regex finds: same matches as a plain pass.
        #[test]
        fn hot_regions_find_every_match(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
            symbols in proptest::collection::vec(proptest::sample::select(b"BCDFGHJKMNPQRTVWXY2346789-\x00".to_vec()), 0..400),
            at in 0usize..3000,
            form in 0usize..4,
        ) {
            let mut bytes = noise;
            let key = match form {
                0 => MAK.as_bytes().to_vec(),
                1 => utf16le(MAK),
                2 => utf16be(MAK),
                _ => symbols,
            };
            let at = at.min(bytes.len());
            bytes.splice(at..at, key);
            let plain: Vec<(usize, usize)> = key_regex().find_iter(&bytes).map(|m| (m.start(), m.end())).collect();
            proptest::prop_assert_eq!(key_matches(&bytes), plain);
        }
    }

    #[test]
    fn finds_ascii_and_utf16_keys_between_binary_bytes() {
        let cases = [
            (MAK.as_bytes().to_vec(), 4),
            (utf16le(MAK), 4),
            (utf16be(MAK), 5),
            (utf16le(&MAK.replace('-', "")), 4),
        ];
        for (encoded, offset) in cases {
            let mut bytes = vec![0xFFu8, 0x01, 0x00, 0x00];
            bytes.extend_from_slice(&encoded);
            bytes.extend_from_slice(&[0x00, 0x00, 0x90, 0xC3]);
            let found = run(&bytes, CHUNK_SIZE);
            assert_eq!(found.len(), 1, "{encoded:?}");
            assert_eq!(found[0].rule.code, "MG251");
            assert_eq!(found[0].key.as_ref().unwrap().key.reveal_unmasked(), MAK);
            let range = found[0].byte_range().expect("a binary finding has a byte range");
            assert_eq!(range.start, offset);
            let symbols: Vec<u8> = bytes[range.start..range.end]
                .iter()
                .copied()
                .filter(|&b| b != 0)
                .collect();
            assert_eq!(
                symbols,
                encoded.iter().copied().filter(|&b| b != 0).collect::<Vec<u8>>()
            );
            assert_eq!(found[0].line(), None);
        }
    }

    #[test]
    fn legacy_keys_need_a_key_word_and_gvlks_are_quiet() {
        let plain = format!("\x01{LEGACY}\x01{GVLK}\x01");
        assert!(run(plain.as_bytes(), CHUNK_SIZE).is_empty());
        let worded = utf16le(&format!("ProductKey={LEGACY}"));
        assert_eq!(run(&worded, CHUNK_SIZE).len(), 1);
    }

    #[test]
    fn a_key_across_every_chunk_boundary_is_found_once() {
        let chunk = OVERLAP;
        for encoded in [MAK.as_bytes().to_vec(), utf16le(MAK)] {
            for split in 0..encoded.len() + GUARD + 2 {
                let start = 3 * chunk - split;
                let mut bytes = vec![0x01u8; 5 * chunk];
                bytes[start..start + encoded.len()].copy_from_slice(&encoded);
                let found = run(&bytes, chunk);
                assert_eq!(found.len(), 1, "split {split}");
                let range = found[0].byte_range().expect("a binary finding has a byte range");
                assert_eq!(range.start, start, "split {split}");
                assert_eq!(
                    range.end,
                    start + encoded.len() - usize::from(encoded.ends_with(&[0])),
                    "split {split}"
                );
            }
        }
    }

    #[test]
    fn longer_runs_hold_only_checksummed_keys() {
        for bytes in [format!("\x01{LEGACY}-BCDFG\x01"), format!("\x01BCDFG-{LEGACY}\x01")] {
            assert!(run(bytes.as_bytes(), CHUNK_SIZE).is_empty(), "{bytes}");
        }
        for bytes in [format!("\x01{MAK}-BCDFG\x01"), format!("\x01BCDFG-{MAK}-BCDFG\x01")] {
            let found = run(bytes.as_bytes(), CHUNK_SIZE);
            assert_eq!(found.len(), 1, "{bytes}");
            assert_eq!(found[0].key.as_ref().unwrap().key.reveal_unmasked(), MAK);
        }
    }

    #[test]
    fn the_cases_that_were_missed() {
        let ascii = format!("\x01{MAK}l\x01");
        assert_eq!(run(ascii.as_bytes(), CHUNK_SIZE).len(), 1);
        for before in ["9", "U", "\u{e9}", "\u{936}", "\u{3600}"] {
            let bytes = utf16le(&format!("{before}{MAK}"));
            let found = run(&bytes, CHUNK_SIZE);
            assert_eq!(found.len(), 1, "{before:?}");
            assert!(found[0].message.contains("UTF-16"), "{}", found[0].message);
        }
    }

    #[test]
    fn utf16_neighbours_are_read_in_the_key_byte_order() {
        // A bare legacy key after a key word must stand alone; `\u{3600}` before a
        // little-endian key is a CJK character, not the digit `6` its first byte spells.
        let bare = LEGACY.replace('-', "");
        let alone = utf16le(&format!("ProductKey=\u{2022}{bare} "));
        assert_eq!(run(&alone, CHUNK_SIZE).len(), 1);
        let glued = utf16le(&format!("ProductKey={bare}9"));
        assert!(run(&glued, CHUNK_SIZE).is_empty());
    }

    proptest::proptest! {
        /// In binary data a dashed key whose checksum validates is found once, in every
        /// encoding, whatever bytes touch it.
        #[test]
        fn a_checksummed_dashed_key_is_found_whatever_touches_it(
            before in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6),
            after in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6),
            form in 0usize..3,
        ) {
            let encoded = match form {
                0 => MAK.as_bytes().to_vec(),
                1 => utf16le(MAK),
                _ => utf16be(MAK),
            };
            let mut bytes = before.clone();
            bytes.extend_from_slice(&encoded);
            bytes.extend_from_slice(&after);
            let found = run(&bytes, CHUNK_SIZE);
            let keys: Vec<&str> = found.iter().map(|f| f.key.as_ref().unwrap().key.reveal_unmasked()).collect();
            proptest::prop_assert!(keys.contains(&MAK), "{:?} -> {:?}", bytes, keys);
        }
    }

    #[test]
    fn repeated_keys_are_counted() {
        let bytes = format!("\x01{MAK}\x01{MAK}\x01");
        let found = run(bytes.as_bytes(), CHUNK_SIZE);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("2 occurrences"));
    }
}
