//! The 4096-byte base block ("regf" header) that starts every primary hive
//! file and, in its first 512 bytes, every transaction log file.
//!
//! Owns the field offsets, the XOR-32 checksum and the little-endian field
//! readers used across the crate.

/// Size of the base block; hive bin offsets are relative to its end.
pub(crate) const BASE_BLOCK_LEN: usize = 4096;
/// The part of the base block covered by the checksum.
const CHECKSUM_SPAN: usize = 508;
pub(crate) const OFF_SEQ1: usize = 4;
pub(crate) const OFF_SEQ2: usize = 8;
const OFF_MAJOR: usize = 20;
pub(crate) const OFF_FILE_TYPE: usize = 28;
const OFF_ROOT: usize = 36;
pub(crate) const OFF_BINS_SIZE: usize = 40;
pub(crate) const OFF_CHECKSUM: usize = 508;

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let lo = u32_at(b, at)?;
    let hi = u32_at(b, at.checked_add(4)?)?;
    Some(u64::from(lo) | (u64::from(hi) << 32))
}

pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    if let Some(s) = at.checked_add(4).and_then(|end| b.get_mut(at..end)) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// XOR-32 of the first 508 bytes, with the two values Windows never stores
/// (0 and 0xFFFFFFFF) remapped the way the kernel remaps them.
pub(crate) fn checksum(block: &[u8]) -> Option<u32> {
    let span = block.get(..CHECKSUM_SPAN)?;
    let x = span
        .chunks_exact(4)
        .fold(0u32, |acc, c| acc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    Some(match x {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        other => other,
    })
}

/// True when the stored checksum matches. Both the remapped and the raw XOR
/// are accepted because some third-party writers skip the remapping.
pub(crate) fn checksum_ok(block: &[u8]) -> bool {
    let Some(stored) = u32_at(block, OFF_CHECKSUM) else {
        return false;
    };
    let raw = block.get(..CHECKSUM_SPAN).map(|span| {
        span.chunks_exact(4)
            .fold(0u32, |acc, c| acc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    });
    checksum(block) == Some(stored) || raw == Some(stored)
}

pub(crate) fn rewrite_checksum(block: &mut [u8]) {
    if let Some(sum) = checksum(block) {
        put_u32(block, OFF_CHECKSUM, sum);
    }
}

/// The base block fields the reader relies on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BaseBlock {
    pub seq1: u32,
    pub seq2: u32,
    pub file_type: u32,
    pub root: u32,
    pub bins_size: u32,
    pub checksum_ok: bool,
}

impl BaseBlock {
    /// Parses the fields present in the first 512 bytes; `None` when the
    /// signature is wrong or the block is short.
    pub(crate) fn parse(block: &[u8]) -> Option<BaseBlock> {
        if block.get(..4)? != b"regf" {
            return None;
        }
        let major = u32_at(block, OFF_MAJOR)?;
        if major != 1 {
            return None;
        }
        Some(BaseBlock {
            seq1: u32_at(block, OFF_SEQ1)?,
            seq2: u32_at(block, OFF_SEQ2)?,
            file_type: u32_at(block, OFF_FILE_TYPE)?,
            root: u32_at(block, OFF_ROOT)?,
            bins_size: u32_at(block, OFF_BINS_SIZE)?,
            checksum_ok: checksum_ok(block),
        })
    }
}

/// The length a primary hive file's own base block gives it: the base block plus the hive
/// bins data it declares. `None` when `primary` does not start with a base block this reader
/// accepts. A file shorter than this was cut; the reader still opens it (cells past the end fail
/// one by one), so a caller that must not miss a cut compares the two.
pub fn declared_hive_len(primary: &dyn crate::ReadAt) -> Option<u64> {
    let mut block = [0u8; CHECKSUM_SPAN + 4];
    crate::source::read_exact_at(primary, &mut block, 0).ok()?;
    let base = BaseBlock::parse(&block)?;
    Some(BASE_BLOCK_LEN as u64 + u64::from(base.bins_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_hive_len_is_the_base_block_plus_its_bins_size() {
        let mut block = vec![0u8; BASE_BLOCK_LEN];
        block[..4].copy_from_slice(b"regf");
        block[OFF_MAJOR..OFF_MAJOR + 4].copy_from_slice(&1u32.to_le_bytes());
        block[OFF_BINS_SIZE..OFF_BINS_SIZE + 4].copy_from_slice(&0x3000u32.to_le_bytes());
        assert_eq!(declared_hive_len(&block), Some(4096 + 0x3000));
        block[0] = b'x';
        assert_eq!(declared_hive_len(&block), None);
        assert_eq!(declared_hive_len(&b"regf".to_vec()), None);
    }
}
