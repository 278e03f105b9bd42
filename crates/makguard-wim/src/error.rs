//! Everything that can go wrong reading a WIM, one variant per cause, so the scanner can map
//! each to a finding and tell the user what to do.

use crate::hash::Sha1Hash;

/// How to turn a solid WIM or an ESD into one this reader handles.
pub const CONVERT_ADVICE: &str = "convert it with `DISM /Export-Image /Compress:max` or \
`wimlib-imagex export SRC INDEX DEST --compress=LZX`";

/// A WIM this crate could not read, or a part of one it could not verify.
#[derive(Debug, thiserror::Error)]
pub enum WimError {
    /// Reading the underlying file failed.
    #[error("could not read the WIM: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with `MSWIM\0\0\0`.
    #[error("not a WIM file (no MSWIM magic)")]
    NotAWim,
    /// The file is shorter than something it claims to hold.
    #[error("the WIM is truncated: {0}")]
    Truncated(String),
    /// wimlib's pipable format (`WLPWM\0\0\0`).
    #[error("pipable WIMs are not supported; convert it with `wimlib-imagex export SRC all DEST.wim`")]
    Pipable,
    /// A header field is out of range.
    #[error("invalid WIM header: {0}")]
    BadHeader(String),
    /// Solid resources: an ESD, `wimlib-imagex capture --solid`, or LZMS compression.
    #[error("solid or LZMS-compressed WIMs (.esd) are not supported ({reason}); {CONVERT_ADVICE}")]
    Solid {
        /// What marked the WIM as solid.
        reason: &'static str,
    },
    /// One part of a split WIM (`.swm`).
    #[error(
        "split WIMs (.swm) are not supported (this is part {part} of {total}); join the parts with \
`DISM /Export-Image /SourceImageFile:X.swm /SWMFile:X*.swm` or `wimlib-imagex export X.swm all X.wim --ref=\"X*.swm\"`"
    )]
    Split {
        /// This file's part number.
        part: u16,
        /// How many parts the WIM claims.
        total: u16,
    },
    /// The header's write-in-progress flag (0x40) is set.
    #[error("the WIM is flagged as being written (flag 0x40): it may be half-written; finish or redo the capture")]
    WriteInProgress,
    /// An ESD whose XML marks it as encrypted.
    #[error("encrypted ESDs are not supported; decrypt and {CONVERT_ADVICE}")]
    EncryptedEsd,
    /// The blob table places a blob in another part of a split WIM.
    #[error(
        "blob {hash} is stored in part {part} of a split WIM, which is not supported; join the parts into one WIM first"
    )]
    BlobInOtherPart {
        /// The blob.
        hash: Sha1Hash,
        /// The part it claims to be in.
        part: u16,
    },
    /// The blob table is malformed.
    #[error("invalid blob table: {0}")]
    BadBlobTable(String),
    /// The XML data is malformed.
    #[error("invalid XML data: {0}")]
    BadXml(String),
    /// `image_tree` was asked for an image the WIM does not have.
    #[error("the WIM has no image {index} (it has {count})")]
    NoSuchImage {
        /// The index asked for (1-based).
        index: u32,
        /// How many images the WIM has.
        count: u32,
    },
    /// An image's metadata resource is malformed.
    #[error("invalid metadata of image {image}: {message}")]
    BadMetadata {
        /// The image (1-based).
        image: u32,
        /// What is wrong.
        message: String,
    },
    /// A metadata resource claims more than 512 times the file's size.
    #[error("the metadata of image {image} claims {size} bytes, more than 512 times the WIM's size")]
    MetadataTooLarge {
        /// The image (1-based).
        image: u32,
        /// The size it claims.
        size: u64,
    },
    /// The directory tree nests deeper than [`crate::MAX_DEPTH`].
    #[error("the directory tree of image {image} is deeper than {max} levels (or cyclic)", max = crate::MAX_DEPTH)]
    TooDeep {
        /// The image (1-based).
        image: u32,
    },
    /// A directory's entries lead back to an entry already read.
    #[error("the directory tree of image {image} is cyclic (entry at offset {offset} reached twice)")]
    Cycle {
        /// The image (1-based).
        image: u32,
        /// The offset in the metadata resource reached twice.
        offset: u64,
    },
    /// No blob with this hash is in the blob table.
    #[error("blob {0} is not in the blob table")]
    BlobNotFound(Sha1Hash),
    /// The decoded bytes do not hash to the blob table's SHA-1.
    #[error("blob {expected} is corrupt: its data hashes to {actual}")]
    HashMismatch {
        /// The SHA-1 the blob table names.
        expected: Sha1Hash,
        /// The SHA-1 of the bytes read.
        actual: Sha1Hash,
    },
    /// A resource's layout (chunk table, sizes, offsets) is malformed.
    #[error("invalid resource at offset {offset}: {message}")]
    BadResource {
        /// The resource's offset in the WIM.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A chunk failed to decompress.
    #[error("chunk {chunk} of the resource at offset {offset} failed to decompress: {source}")]
    Decompress {
        /// The resource's offset in the WIM.
        offset: u64,
        /// The chunk's index in the resource.
        chunk: u64,
        /// The decoder's complaint.
        source: crate::CodecError,
    },
}

impl WimError {
    /// The `WimError` inside an `io::Error` returned by a [`crate::BlobReader`], if any.
    pub fn from_io(error: &std::io::Error) -> Option<&WimError> {
        error.get_ref().and_then(|inner| inner.downcast_ref::<WimError>())
    }

    /// Wraps this error in an `io::Error` of kind `InvalidData` (for `Read` implementations).
    pub fn into_io(self) -> std::io::Error {
        match self {
            WimError::Io(inner) => inner,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}
