//! The 208-byte WIM header and the 24-byte resource headers it and the blob table hold.

use crate::error::WimError;

pub(crate) const HEADER_SIZE: usize = 208;
const MAGIC: &[u8; 8] = b"MSWIM\0\0\0";
const PIPABLE_MAGIC: &[u8; 8] = b"WLPWM\0\0\0";
const VERSION_DEFAULT: u32 = 0x10D00;
const VERSION_SOLID: u32 = 0xE00;

const FLAG_COMPRESSED: u32 = 0x2;
const FLAG_SPANNED: u32 = 0x8;
const FLAG_WRITE_IN_PROGRESS: u32 = 0x40;
const FLAG_XPRESS: u32 = 0x20000;
const FLAG_LZX: u32 = 0x40000;
const FLAG_LZMS: u32 = 0x80000;
const FLAG_XPRESS_HUFFMAN: u32 = 0x200000;

/// Smallest and largest chunk sizes accepted (the decoders support windows up to 2 MiB).
const MIN_CHUNK_SIZE: u32 = 4096;
const MAX_CHUNK_SIZE: u32 = 2 * 1024 * 1024;

/// How the WIM's non-solid resources are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is.
    None,
    /// XPRESS (LZ77 + Huffman, [MS-XCA]).
    Xpress,
    /// LZX, in the WIM variant.
    Lzx,
}

/// Where a resource is and how it is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceHeader {
    /// Bytes it occupies in the WIM.
    pub stored_size: u64,
    /// Flags: 0x1 free, 0x2 metadata, 0x4 compressed, 0x8 spanned, 0x10 solid.
    pub flags: u8,
    /// Its offset in the WIM.
    pub offset: u64,
    /// Its size once decompressed.
    pub original_size: u64,
}

pub(crate) const RESOURCE_FREE: u8 = 0x1;
pub(crate) const RESOURCE_METADATA: u8 = 0x2;
pub(crate) const RESOURCE_COMPRESSED: u8 = 0x4;
pub(crate) const RESOURCE_SPANNED: u8 = 0x8;
pub(crate) const RESOURCE_SOLID: u8 = 0x10;

impl ResourceHeader {
    pub(crate) fn parse(bytes: &[u8]) -> ResourceHeader {
        let mut size = [0u8; 8];
        size[..7].copy_from_slice(&bytes[..7]);
        ResourceHeader {
            stored_size: u64::from_le_bytes(size),
            flags: bytes[7],
            offset: le_u64(bytes, 8),
            original_size: le_u64(bytes, 16),
        }
    }

    /// The 24 bytes as stored: 7-byte stored size, flags, offset, original size.
    pub(crate) fn to_bytes(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..7].copy_from_slice(&self.stored_size.to_le_bytes()[..7]);
        out[7] = self.flags;
        out[8..16].copy_from_slice(&self.offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.original_size.to_le_bytes());
        out
    }

    /// An uncompressed resource of `len` bytes at `offset`.
    pub(crate) fn uncompressed(offset: u64, len: u64, flags: u8) -> ResourceHeader {
        ResourceHeader {
            stored_size: len,
            flags,
            offset,
            original_size: len,
        }
    }

    /// Whether it is stored compressed (in chunks).
    pub fn is_compressed(&self) -> bool {
        self.flags & RESOURCE_COMPRESSED != 0
    }

    /// Checks that the stored bytes lie inside a file of `file_len` bytes.
    pub(crate) fn check_within(&self, file_len: u64, what: &str) -> Result<(), WimError> {
        match self.offset.checked_add(self.stored_size) {
            Some(end) if end <= file_len => Ok(()),
            _ => Err(WimError::Truncated(format!(
                "{what} at offset {} of {} bytes runs past the end of the {file_len}-byte file",
                self.offset, self.stored_size
            ))),
        }
    }
}

/// The parsed WIM header.
#[derive(Clone, Debug)]
pub struct Header {
    /// Format version (0x10D00).
    pub version: u32,
    /// Header flags.
    pub flags: u32,
    /// How non-solid resources are compressed.
    pub compression: Compression,
    /// Uncompressed bytes per chunk (0 when uncompressed).
    pub chunk_size: u32,
    /// The WIM's GUID.
    pub guid: [u8; 16],
    /// The number of images.
    pub image_count: u32,
    /// Where the blob table is.
    pub blob_table: ResourceHeader,
    /// Where the XML data is.
    pub xml_data: ResourceHeader,
    /// The bootable image (0 = none).
    pub boot_index: u32,
    /// Where the integrity table is (stored size 0 = none). Not verified by this crate.
    pub integrity_table: ResourceHeader,
}

impl Header {
    /// Parses and checks the header of a file of `file_len` bytes.
    pub(crate) fn parse(bytes: &[u8], file_len: u64) -> Result<Header, WimError> {
        if bytes.len() >= 8 && &bytes[..8] == PIPABLE_MAGIC {
            return Err(WimError::Pipable);
        }
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(WimError::NotAWim);
        }
        if bytes.len() < HEADER_SIZE {
            return Err(WimError::Truncated(format!("the header needs {HEADER_SIZE} bytes")));
        }
        let header_size = le_u32(bytes, 0x08);
        if header_size as usize != HEADER_SIZE {
            return Err(WimError::BadHeader(format!(
                "header size {header_size}, expected {HEADER_SIZE}"
            )));
        }
        let flags = le_u32(bytes, 0x10);
        check_flags(flags)?;
        let version = le_u32(bytes, 0x0C);
        check_version(version)?;
        let part = le_u16(bytes, 0x28);
        let total = le_u16(bytes, 0x2A);
        if flags & FLAG_SPANNED != 0 || total != 1 || part != 1 {
            return Err(WimError::Split { part, total });
        }
        let compression = compression_of(flags)?;
        let chunk_size = le_u32(bytes, 0x14);
        check_chunk_size(compression, chunk_size)?;
        let header = Header {
            version,
            flags,
            compression,
            chunk_size,
            guid: bytes[0x18..0x28].try_into().expect("16 bytes"),
            image_count: le_u32(bytes, 0x2C),
            blob_table: ResourceHeader::parse(&bytes[0x30..0x48]),
            xml_data: ResourceHeader::parse(&bytes[0x48..0x60]),
            boot_index: le_u32(bytes, 0x78),
            integrity_table: ResourceHeader::parse(&bytes[0x7C..0x94]),
        };
        header.check_resources(file_len)?;
        Ok(header)
    }

    fn check_resources(&self, file_len: u64) -> Result<(), WimError> {
        for (resource, what) in [(&self.blob_table, "the blob table"), (&self.xml_data, "the XML data")] {
            resource.check_within(file_len, what)?;
            if resource.is_compressed() || resource.stored_size != resource.original_size {
                return Err(WimError::BadHeader(format!("{what} is not stored uncompressed")));
            }
        }
        if self.boot_index > self.image_count {
            return Err(WimError::BadHeader(format!(
                "boot index {} but only {} images",
                self.boot_index, self.image_count
            )));
        }
        Ok(())
    }
}

fn check_flags(flags: u32) -> Result<(), WimError> {
    if flags & FLAG_WRITE_IN_PROGRESS != 0 {
        return Err(WimError::WriteInProgress);
    }
    if flags & FLAG_LZMS != 0 {
        return Err(WimError::Solid {
            reason: "LZMS compression flag 0x80000",
        });
    }
    Ok(())
}

fn check_version(version: u32) -> Result<(), WimError> {
    match version {
        VERSION_DEFAULT => Ok(()),
        VERSION_SOLID => Err(WimError::Solid {
            reason: "format version 0xE00",
        }),
        other => Err(WimError::BadHeader(format!("unsupported format version {other:#x}"))),
    }
}

fn compression_of(flags: u32) -> Result<Compression, WimError> {
    if flags & FLAG_COMPRESSED == 0 {
        return Ok(Compression::None);
    }
    match flags & (FLAG_XPRESS | FLAG_LZX | FLAG_XPRESS_HUFFMAN) {
        FLAG_XPRESS => Ok(Compression::Xpress),
        FLAG_LZX => Ok(Compression::Lzx),
        other => Err(WimError::BadHeader(format!(
            "compressed, but with unknown or several compression types (flags {other:#x})"
        ))),
    }
}

fn check_chunk_size(compression: Compression, chunk_size: u32) -> Result<(), WimError> {
    if compression == Compression::None {
        return Ok(());
    }
    if !chunk_size.is_power_of_two() || !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(WimError::BadHeader(format!(
            "chunk size {chunk_size} (a power of two from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} is needed)"
        )));
    }
    Ok(())
}

pub(crate) fn le_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"))
}

pub(crate) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}
