//! The integrity table: SHA-1s of fixed-size chunks of the file from the end of the header to
//! the end of the blob table, which `wimlib-imagex verify` and `info --check` (and DISM's
//! `/CheckIntegrity`) compare against the file. Computed here for a rewritten WIM, and checked
//! on the input before it is rewritten so a damaged file is never re-blessed.

use sha1::Digest;

use crate::error::WimError;
use crate::hash::Sha1Hash;
use crate::header::{HEADER_SIZE, le_u32};
use crate::read_at::ReadAt;

/// The chunk size wimlib and Microsoft's tools use (10 MiB).
pub(crate) const DEFAULT_CHUNK_SIZE: u32 = 10 * 1024 * 1024;
const TABLE_HEADER: usize = 12;

/// A parsed integrity table.
pub(crate) struct IntegrityTable {
    pub(crate) chunk_size: u32,
    pub(crate) hashes: Vec<Sha1Hash>,
}

impl IntegrityTable {
    /// Parses the table's bytes (`{u32 size, u32 count, u32 chunk size}` then the SHA-1s).
    pub(crate) fn parse(bytes: &[u8]) -> Result<IntegrityTable, WimError> {
        let bad = |message: String| WimError::BadHeader(format!("integrity table: {message}"));
        if bytes.len() < TABLE_HEADER {
            return Err(bad(format!("{} bytes is shorter than its header", bytes.len())));
        }
        let size = le_u32(bytes, 0) as usize;
        let count = le_u32(bytes, 4) as usize;
        let chunk_size = le_u32(bytes, 8);
        let expected = count.checked_mul(20).and_then(|n| n.checked_add(TABLE_HEADER));
        if expected != Some(size) || size > bytes.len() || chunk_size == 0 {
            return Err(bad(format!(
                "size {size}, {count} entries, chunk size {chunk_size} in {} bytes",
                bytes.len()
            )));
        }
        let hashes = bytes[TABLE_HEADER..size]
            .chunks_exact(20)
            .map(Sha1Hash::from_slice)
            .collect();
        Ok(IntegrityTable { chunk_size, hashes })
    }

    /// The table for the source's bytes from the end of the header to `end`.
    pub(crate) fn compute(source: &dyn ReadAt, end: u64, chunk_size: u32) -> Result<IntegrityTable, WimError> {
        let mut hasher = ChunkHasher::new(chunk_size);
        hasher.update_from(source, HEADER_SIZE as u64, end)?;
        Ok(hasher.finish())
    }

    /// The index of the first chunk whose SHA-1 differs from `other`'s (or where one of the
    /// tables ends first).
    pub(crate) fn first_difference(&self, other: &IntegrityTable) -> Option<usize> {
        let common = self.hashes.iter().zip(&other.hashes).position(|(a, b)| a != b);
        common.or_else(|| (self.hashes.len() != other.hashes.len()).then(|| self.hashes.len().min(other.hashes.len())))
    }

    /// The bytes as stored.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let size = TABLE_HEADER + 20 * self.hashes.len();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&(size as u32).to_le_bytes());
        out.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.chunk_size.to_le_bytes());
        for hash in &self.hashes {
            out.extend_from_slice(&hash.0);
        }
        out
    }
}

/// Hashes a byte stream in fixed-size chunks, so the table of a file made of an old file's
/// bytes followed by new ones in memory needs no second read of the new file.
pub(crate) struct ChunkHasher {
    chunk_size: u32,
    filled: u64,
    current: sha1::Sha1,
    hashes: Vec<Sha1Hash>,
}

impl ChunkHasher {
    pub(crate) fn new(chunk_size: u32) -> ChunkHasher {
        ChunkHasher {
            chunk_size,
            filled: 0,
            current: sha1::Sha1::new(),
            hashes: Vec::new(),
        }
    }

    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = u64::from(self.chunk_size) - self.filled;
            let take = (bytes.len() as u64).min(room) as usize;
            self.current.update(&bytes[..take]);
            self.filled += take as u64;
            bytes = &bytes[take..];
            if self.filled == u64::from(self.chunk_size) {
                self.close_chunk();
            }
        }
    }

    /// Feeds the source's bytes from `start` to `end`.
    pub(crate) fn update_from(&mut self, source: &dyn ReadAt, start: u64, end: u64) -> Result<(), WimError> {
        let mut buffer = vec![0u8; 1 << 20];
        let mut at = start;
        while at < end {
            let len = (end - at).min(buffer.len() as u64) as usize;
            source.read_exact_at(at, &mut buffer[..len])?;
            self.update(&buffer[..len]);
            at += len as u64;
        }
        Ok(())
    }

    fn close_chunk(&mut self) {
        let done = std::mem::replace(&mut self.current, sha1::Sha1::new());
        self.hashes.push(Sha1Hash(done.finalize().into()));
        self.filled = 0;
    }

    pub(crate) fn finish(mut self) -> IntegrityTable {
        if self.filled > 0 {
            self.close_chunk();
        }
        IntegrityTable {
            chunk_size: self.chunk_size,
            hashes: self.hashes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_fed_in_pieces_hashes_like_the_whole_file() {
        let file: Vec<u8> = (0..(HEADER_SIZE + 10_000)).map(|i| (i * 7 % 251) as u8).collect();
        let whole = IntegrityTable::compute(&file, file.len() as u64, 4096).unwrap();
        assert_eq!(whole.hashes.len(), 3);
        let mut pieces = ChunkHasher::new(4096);
        pieces.update_from(&file, HEADER_SIZE as u64, 5000).unwrap();
        pieces.update(&file[5000..]);
        let pieces = pieces.finish();
        assert_eq!(pieces.hashes, whole.hashes);
        assert_eq!(whole.hashes[2], Sha1Hash::of(&file[HEADER_SIZE + 8192..]));
        let parsed = IntegrityTable::parse(&whole.to_bytes()).unwrap();
        assert_eq!(parsed.first_difference(&whole), None);
        let mut other = IntegrityTable::compute(&file, file.len() as u64 - 1, 4096).unwrap();
        assert_eq!(other.first_difference(&whole), Some(2));
        other.hashes.pop();
        assert_eq!(other.first_difference(&whole), Some(2));
    }
}
