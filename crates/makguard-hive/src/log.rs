//! Dirty-hive detection and replay of new-format ("`HvLE`") transaction logs.
//!
//! Owns [`DirtyState`], the Marvin32 hash that guards log entries, and the
//! replay itself. Replay only ever happens on the in-memory copy; the files on
//! disk are never written.
//!
//! Rules followed (Windows 8.1+ log format):
//! * a hive is dirty when its base block checksum is wrong or its primary and
//!   secondary sequence numbers differ; a clean hive ignores its logs;
//! * a log is usable when its 512-byte base block has the `regf` signature, a
//!   valid checksum and file type 6; old-format logs (`DIRT` bitmap, file
//!   types 1 and 2) are recognised but not replayed;
//! * inside a log, entries are read from offset 512 until the first one whose
//!   signature, size, hashes, hive bins size or sequence continuity is wrong;
//! * entries from `.LOG1` and `.LOG2` whose sequence number is at least the
//!   primary sequence number are applied in sequence order, stopping at the
//!   first gap;
//! * a primary base block with a bad checksum is first replaced by the log's.

use std::path::PathBuf;

use crate::base::{self, BASE_BLOCK_LEN, BaseBlock, OFF_BINS_SIZE, OFF_FILE_TYPE, OFF_SEQ1, OFF_SEQ2, u32_at, u64_at};

/// What is known about the on-disk consistency of a hive and what was done
/// about it.
///
/// The case that matters to a scanner is [`DirtyState::may_be_stale`]: the
/// primary file was caught mid-write and its logs could not bring it up to
/// date, so values read from it may be older than what Windows would see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirtyState {
    /// Primary sequence number (offset 4) differs from the secondary one
    /// (offset 8): a write to the primary file did not complete.
    pub sequence_mismatch: bool,
    /// The base block checksum is wrong (also a sign of an interrupted write).
    pub checksum_mismatch: bool,
    /// Transaction logs found beside the hive (`<name>.LOG1`, `<name>.LOG2`,
    /// any letter case), in the order they are considered.
    pub logs: Vec<PathBuf>,
    /// Log entries were replayed into the in-memory image, so what this
    /// reader returns reflects the logged writes.
    pub logs_applied: bool,
    /// How many log entries were replayed.
    pub applied_entries: u32,
    /// Why logs were not (or not all) used, when that is worth knowing.
    pub log_problem: Option<String>,
}

impl DirtyState {
    /// The primary file on disk is not consistent by itself.
    pub fn is_dirty(&self) -> bool {
        self.sequence_mismatch || self.checksum_mismatch
    }

    /// The hive is dirty and no log was replayed: values read may be older
    /// than the live registry's.
    pub fn may_be_stale(&self) -> bool {
        self.is_dirty() && !self.logs_applied
    }

    pub(crate) fn note(&mut self, problem: String) {
        match &mut self.log_problem {
            Some(existing) => {
                existing.push_str("; ");
                existing.push_str(&problem);
            }
            None => self.log_problem = Some(problem),
        }
    }
}

/// The seed Windows uses for both log entry hashes.
const LOG_HASH_SEED: u64 = 0x82EF_4D88_7A4E_55C5;
const LOG_BLOCK: usize = 512;
const ENTRY_HEADER: usize = 40;
const FILE_TYPE_NEW_LOG: u32 = 6;

fn marvin_mix(lo: &mut u32, hi: &mut u32) {
    *hi ^= *lo;
    *lo = lo.rotate_left(20);
    *lo = lo.wrapping_add(*hi);
    *hi = hi.rotate_left(9);
    *hi ^= *lo;
    *lo = lo.rotate_left(27);
    *lo = lo.wrapping_add(*hi);
    *hi = hi.rotate_left(19);
}

/// Marvin32 (64-bit output), the keyed hash that protects log entries.
pub(crate) fn marvin32(data: &[u8], seed: u64) -> u64 {
    // Truncation to the low and high halves of the seed is the algorithm's
    // definition.
    let mut lo = (seed & 0xFFFF_FFFF) as u32;
    let mut hi = (seed >> 32) as u32;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        lo = lo.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        marvin_mix(&mut lo, &mut hi);
    }
    let tail = words.remainder();
    let last = match *tail {
        [] => 0x80,
        [a] => 0x8000 | u32::from(a),
        [a, b] => 0x0080_0000 | u32::from(a) | (u32::from(b) << 8),
        [a, b, c] => 0x8000_0000 | u32::from(a) | (u32::from(b) << 8) | (u32::from(c) << 16),
        _ => 0,
    };
    lo = lo.wrapping_add(last);
    marvin_mix(&mut lo, &mut hi);
    marvin_mix(&mut lo, &mut hi);
    (u64::from(hi) << 32) | u64::from(lo)
}

/// A transaction log file's bytes, as found beside the hive.
pub(crate) struct LogInput {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

struct Entry<'a> {
    seq: u32,
    bins_size: u32,
    /// (offset relative to the hive bins data, page bytes)
    pages: Vec<(u32, &'a [u8])>,
}

/// Validates a log's base block and returns its valid entries (the prefix up
/// to the first bad one).
fn parse_log(bytes: &[u8]) -> Result<Vec<Entry<'_>>, &'static str> {
    let block = bytes.get(..LOG_BLOCK).ok_or("shorter than a log base block")?;
    let base = BaseBlock::parse(block).ok_or("no valid regf base block")?;
    if !base.checksum_ok {
        return Err("log base block checksum is wrong");
    }
    match base.file_type {
        FILE_TYPE_NEW_LOG => {}
        1 | 2 => return Err("old-format (DIRT) log; only new-format HvLE logs are replayed"),
        _ => return Err("log base block has an unknown file type"),
    }
    let mut entries: Vec<Entry<'_>> = Vec::new();
    let mut at = LOG_BLOCK;
    while let Some(entry_bytes) = entry_at(bytes, at) {
        let Some(entry) = parse_entry(entry_bytes) else {
            break;
        };
        if let Some(prev) = entries.last()
            && prev.seq.checked_add(1) != Some(entry.seq)
        {
            break;
        }
        entries.push(entry);
        // entry_at guarantees the size fits within `bytes`.
        at += entry_bytes.len();
    }
    Ok(entries)
}

/// The bytes of the entry starting at `at`, when its header and declared size
/// are plausible.
fn entry_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let header = bytes.get(at..at.checked_add(ENTRY_HEADER)?)?;
    if header.get(..4)? != b"HvLE" {
        return None;
    }
    let size = usize::try_from(u32_at(header, 4)?).ok()?;
    if size < ENTRY_HEADER || !size.is_multiple_of(LOG_BLOCK) {
        return None;
    }
    bytes.get(at..at.checked_add(size)?)
}

fn parse_entry(e: &[u8]) -> Option<Entry<'_>> {
    let seq = u32_at(e, 12)?;
    let bins_size = u32_at(e, 16)?;
    let count = usize::try_from(u32_at(e, 20)?).ok()?;
    if bins_size == 0 || !bins_size.is_multiple_of(4096) {
        return None;
    }
    if marvin32(e.get(ENTRY_HEADER..)?, LOG_HASH_SEED) != u64_at(e, 24)?
        || marvin32(e.get(..32)?, LOG_HASH_SEED) != u64_at(e, 32)?
    {
        return None;
    }
    let refs_end = count.checked_mul(8)?.checked_add(ENTRY_HEADER)?;
    if refs_end > e.len() {
        return None;
    }
    let mut pages = Vec::with_capacity(count);
    let mut cursor = refs_end;
    for i in 0..count {
        let r = ENTRY_HEADER + i * 8;
        let offset = u32_at(e, r)?;
        let size = usize::try_from(u32_at(e, r + 4)?).ok()?;
        let page = e.get(cursor..cursor.checked_add(size)?)?;
        let end = u64::from(offset).checked_add(u64::try_from(size).ok()?)?;
        if end > u64::from(bins_size) {
            return None;
        }
        pages.push((offset, page));
        cursor += size;
    }
    Some(Entry { seq, bins_size, pages })
}

/// Replays usable log entries into `image` (a primary hive file image) when
/// the hive is dirty, recording what happened in `state`.
pub(crate) fn replay(image: &mut Vec<u8>, logs: &[LogInput], state: &mut DirtyState) {
    if !state.is_dirty() {
        return;
    }
    if logs.is_empty() {
        if state.logs.is_empty() {
            state.note("hive is dirty and no transaction log was available".into());
        }
        return;
    }
    let (parsed, log_base) = parse_logs(logs, state);
    if state.checksum_mismatch && !restore_base_block(image, log_base) {
        state.note("base block checksum is wrong and no usable log carries a copy".into());
        return;
    }
    let Some(start) = u32_at(image, OFF_SEQ1) else {
        return;
    };
    let chain = entry_chain(&parsed, start);
    if chain.is_empty() {
        state.note(format!("no valid log entry continues from sequence number {start}"));
        return;
    }
    // A log can only describe hive bins it carries or that already exist, so
    // growth beyond that is a corrupt length field, not an allocation request.
    let log_bytes: u64 = logs.iter().map(|l| l.bytes.len() as u64).sum();
    let applied = apply_chain(image, &chain, log_bytes, state);
    if let Some(last) = applied.last() {
        seal_base_block(image, last.seq);
        state.logs_applied = true;
        // A chain longer than u32::MAX entries would need a log of terabytes.
        state.applied_entries = u32::try_from(applied.len()).unwrap_or(u32::MAX);
    }
}

/// The entries of every usable log, in the order the logs were given, and the
/// base block of the first usable log; unusable logs are noted in `state`.
fn parse_logs<'a>(logs: &'a [LogInput], state: &mut DirtyState) -> (Vec<Vec<Entry<'a>>>, Option<&'a [u8]>) {
    let mut parsed: Vec<Vec<Entry<'_>>> = Vec::new();
    let mut log_base: Option<&[u8]> = None;
    for log in logs {
        match parse_log(&log.bytes) {
            Ok(entries) => {
                if log_base.is_none() {
                    log_base = log.bytes.get(..LOG_BLOCK);
                }
                parsed.push(entries);
            }
            Err(why) => state.note(format!("{}: {why}", log.path.display())),
        }
    }
    (parsed, log_base)
}

/// Replaces the primary base block, whose checksum is wrong and so cannot be
/// trusted, with the copy a log carries. False when there is no copy.
fn restore_base_block(image: &mut [u8], log_base: Option<&[u8]>) -> bool {
    let (Some(src), Some(dst)) = (log_base, image.get_mut(..LOG_BLOCK)) else {
        return false;
    };
    dst.copy_from_slice(src);
    // The copy says "log file"; the image is a primary hive again.
    base::put_u32(image, OFF_FILE_TYPE, 0);
    if let Some(block) = image.get_mut(..LOG_BLOCK) {
        base::rewrite_checksum(block);
    }
    true
}

/// The entries to replay: those at or after `start`, one per sequence number,
/// up to the first gap.
fn entry_chain<'e, 'a>(parsed: &'e [Vec<Entry<'a>>], start: u32) -> Vec<&'e Entry<'a>> {
    let mut candidates: Vec<&Entry<'_>> = parsed.iter().flatten().filter(|e| e.seq >= start).collect();
    // Stable sort keeps .LOG1 ahead of .LOG2 for equal sequence numbers.
    candidates.sort_by_key(|e| e.seq);
    candidates.dedup_by_key(|e| e.seq);
    let mut chain: Vec<&Entry<'_>> = Vec::new();
    for e in candidates {
        match chain.last() {
            Some(prev) if prev.seq.checked_add(1) != Some(e.seq) => break,
            _ => chain.push(e),
        }
    }
    chain
}

/// Applies `chain` in order until an entry cannot be applied; returns the
/// applied prefix.
fn apply_chain<'c, 'e, 'a>(
    image: &mut Vec<u8>,
    chain: &'c [&'e Entry<'a>],
    log_bytes: u64,
    state: &mut DirtyState,
) -> &'c [&'e Entry<'a>] {
    let applied = chain
        .iter()
        .take_while(|e| apply_entry(image, e, log_bytes, state))
        .count();
    &chain[..applied]
}

/// Writes one entry's pages into `image`, growing it to the entry's hive bins
/// size. False, with nothing written, when that size is not believable.
fn apply_entry(image: &mut Vec<u8>, e: &Entry<'_>, log_bytes: u64, state: &mut DirtyState) -> bool {
    let existing = image.len().saturating_sub(BASE_BLOCK_LEN) as u64;
    if u64::from(e.bins_size) > existing.saturating_add(log_bytes) {
        state.note(format!(
            "log entry {} claims an implausible hive size; replay stopped",
            e.seq
        ));
        return false;
    }
    let Some(needed) = usize::try_from(e.bins_size)
        .ok()
        .and_then(|s| s.checked_add(BASE_BLOCK_LEN))
    else {
        return false;
    };
    if image.len() < needed {
        image.resize(needed, 0);
    }
    for &(offset, page) in &e.pages {
        // parse_entry checked offset + len <= bins_size <= image length.
        let dst = BASE_BLOCK_LEN + offset as usize;
        if let Some(slot) = image.get_mut(dst..dst + page.len()) {
            slot.copy_from_slice(page);
        }
    }
    base::put_u32(image, OFF_BINS_SIZE, e.bins_size);
    true
}

/// Marks the replayed image consistent as of `last_seq`, as Windows does
/// after a successful replay.
fn seal_base_block(image: &mut [u8], last_seq: u32) {
    base::put_u32(image, OFF_SEQ1, last_seq);
    base::put_u32(image, OFF_SEQ2, last_seq);
    if let Some(block) = image.get_mut(..BASE_BLOCK_LEN) {
        base::rewrite_checksum(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published Marvin test vectors (seed 0x004FB61A001BDBCC and two others).
    #[test]
    fn marvin32_matches_known_vectors() {
        let seed = 0x004F_B61A_001B_DBCC;
        let cases: [(&[u8], u64); 8] = [
            (b"", 0x30ED_35C1_00CD_3C7D),
            (&[0xAF], 0x48E7_3FC7_7D75_DDC1),
            (&[0xE7, 0x0F], 0xB5F6_E1FC_485D_BFF8),
            (&[0x37, 0xF4, 0x95], 0xF0B0_7C78_9B8C_F7E8),
            (&[0x86, 0x42, 0xDC, 0x59], 0x7008_F2E8_7E9C_F556),
            (&[0x15, 0x3F, 0xB7, 0x98, 0x26], 0xE6C0_8C6D_A2AF_A997),
            (&[0x09, 0x32, 0xE6, 0x24, 0x6C, 0x47], 0x6F04_BF1A_5EA2_4060),
            (&[0xAB, 0x42, 0x7E, 0xA8, 0xD1, 0x0F, 0xC7], 0xE118_47E4_F067_8C41),
        ];
        for (data, want) in cases {
            assert_eq!(marvin32(data, seed), want, "input {data:02x?}");
        }
        assert_eq!(marvin32(b"abc", 0xD53C_D9CE_CD08_93B7), 0x22C7_4339_4927_69BF);
        assert_eq!(
            marvin32(b"abcdefghijklmnopqrstuvwxyz", 0x0DDD_DEEE_EFFF_F000),
            0xA128_EB7E_7260_ACA2
        );
    }

    #[test]
    fn stale_only_when_dirty_and_not_replayed() {
        let mut s = DirtyState::default();
        assert!(!s.may_be_stale());
        s.logs.push(PathBuf::from("x.LOG1"));
        assert!(!s.may_be_stale(), "logs beside a clean hive do not matter");
        s.sequence_mismatch = true;
        assert!(s.may_be_stale());
        s.logs_applied = true;
        assert!(!s.may_be_stale());
    }
}
