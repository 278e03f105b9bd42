//! [`CodecError`], the one error type of the LZX and XPRESS chunk decompressors.
//!
//! Each variant names what was wrong with the compressed chunk, so a WIM reader can report a
//! damaged resource precisely (and fail closed) instead of guessing.

/// Why a compressed chunk could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The chunk claims more output than a WIM chunk may hold; nothing was allocated for it.
    #[error("chunk of {requested} bytes exceeds the {limit}-byte chunk size limit")]
    ChunkTooLarge {
        /// The uncompressed size asked for.
        requested: usize,
        /// The largest chunk the decoder accepts.
        limit: usize,
    },

    /// The window size given for an LZX chunk is not one LZX supports, or is smaller than the
    /// chunk.
    #[error("invalid LZX window size {window} for a chunk of {chunk} bytes")]
    InvalidWindow {
        /// The window size asked for.
        window: usize,
        /// The chunk's uncompressed size.
        chunk: usize,
    },

    /// The compressed data ended before the chunk was complete.
    #[error("compressed chunk is truncated ({0})")]
    Truncated(&'static str),

    /// A Huffman code-length table describes no valid prefix code (it is over-subscribed),
    /// or the stream used a code the table leaves unassigned.
    #[error("invalid Huffman code ({0})")]
    InvalidHuffmanCode(&'static str),

    /// A block header names an unknown block type or an impossible block size.
    #[error("invalid LZX block header ({0})")]
    InvalidBlock(&'static str),

    /// A match refers to data before the start of the chunk, or an offset of zero.
    #[error("match offset {offset} at output position {position} points before the chunk start")]
    BadMatchOffset {
        /// The match distance.
        offset: usize,
        /// Where in the chunk the match was to be written.
        position: usize,
    },

    /// A match would write past the end of its block or chunk, or its length encoding is
    /// invalid.
    #[error("match length {length} at output position {position} is invalid (limit {limit})")]
    BadMatchLength {
        /// The match length.
        length: usize,
        /// Where in the chunk the match was to be written.
        position: usize,
        /// How many bytes the block or chunk still had room for.
        limit: usize,
    },

    /// The stream decoded to a different number of bytes than the chunk's uncompressed size.
    #[error("chunk decoded to {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// The chunk's uncompressed size.
        expected: usize,
        /// What the stream produced.
        actual: usize,
    },
}
