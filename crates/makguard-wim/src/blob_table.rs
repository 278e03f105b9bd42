//! The blob table: for every blob (file stream or image metadata), where it is stored, in
//! which part, and its SHA-1.

use std::collections::HashMap;

use crate::error::WimError;
use crate::hash::Sha1Hash;
use crate::header::{
    RESOURCE_FREE, RESOURCE_METADATA, RESOURCE_SOLID, RESOURCE_SPANNED, ResourceHeader, le_u16, le_u32,
};

impl BlobEntry {
    /// Whether the blob is stored in another part of a split WIM.
    pub fn in_other_part(&self) -> bool {
        self.part != 1 || self.resource.flags & RESOURCE_SPANNED != 0
    }

    /// Parses one 50-byte entry.
    pub(crate) fn parse(raw: &[u8]) -> BlobEntry {
        BlobEntry {
            resource: ResourceHeader::parse(&raw[..24]),
            part: le_u16(raw, 24),
            reference_count: le_u32(raw, 26),
            hash: Sha1Hash::from_slice(&raw[30..50]),
        }
    }

    /// The 50 bytes as stored.
    pub(crate) fn to_bytes(self) -> [u8; ENTRY_SIZE] {
        let mut out = [0u8; ENTRY_SIZE];
        out[..24].copy_from_slice(&self.resource.to_bytes());
        out[24..26].copy_from_slice(&self.part.to_le_bytes());
        out[26..30].copy_from_slice(&self.reference_count.to_le_bytes());
        out[30..50].copy_from_slice(&self.hash.0);
        out
    }
}

pub(crate) const ENTRY_SIZE: usize = 50;

/// One blob table entry.
#[derive(Clone, Copy, Debug)]
pub struct BlobEntry {
    /// Where and how the blob is stored.
    pub resource: ResourceHeader,
    /// The part of a split WIM holding it (1 here).
    pub part: u16,
    /// How many streams refer to it, as the WIM claims.
    pub reference_count: u32,
    /// The SHA-1 of its decoded bytes.
    pub hash: Sha1Hash,
}

/// The parsed blob table.
pub(crate) struct BlobTable {
    pub(crate) blobs: HashMap<Sha1Hash, BlobEntry>,
    pub(crate) metadata: Vec<BlobEntry>,
}

impl BlobTable {
    pub(crate) fn parse(bytes: &[u8]) -> Result<BlobTable, WimError> {
        if !bytes.len().is_multiple_of(ENTRY_SIZE) {
            return Err(WimError::BadBlobTable(format!(
                "{} bytes is not a whole number of {ENTRY_SIZE}-byte entries",
                bytes.len()
            )));
        }
        let mut blobs = HashMap::with_capacity(bytes.len() / ENTRY_SIZE);
        let mut metadata = Vec::new();
        for raw in bytes.chunks_exact(ENTRY_SIZE) {
            let entry = BlobEntry::parse(raw);
            let flags = entry.resource.flags;
            if flags & RESOURCE_FREE != 0 {
                continue;
            }
            if flags & RESOURCE_SOLID != 0 {
                return Err(WimError::Solid {
                    reason: "a blob stored in a solid resource (flag 0x10)",
                });
            }
            if flags & RESOURCE_METADATA != 0 {
                metadata.push(entry);
            } else if !entry.hash.is_zero() {
                // A duplicate entry for the same hash names the same bytes; the first wins.
                blobs.entry(entry.hash).or_insert(entry);
            }
        }
        Ok(BlobTable { blobs, metadata })
    }
}
