//! WIM image reading for makguard. This part holds the two chunk decompressors a WIM reader
//! needs, [`lzx`] and [`xpress`], and their shared error type [`CodecError`].
//!
//! A compressed WIM resource is a chunk table and chunks of the WIM's chunk size (the last one
//! shorter). A chunk whose stored size equals its uncompressed size is stored raw; any other
//! is decoded on its own with [`xpress::decompress_xpress_chunk`] or, for LZX,
//! [`lzx::decompress_lzx_chunk_in_window`] with the WIM header's chunk size as the window
//! ([`lzx::decompress_lzx_chunk`] is only right for every chunk when that size is 32 KiB).
//! [`lzx::LzxDecoder`] and [`xpress::XpressDecoder`] decode into caller-provided buffers and
//! keep their tables between chunks.

mod codec_bits;
mod codec_error;
mod codec_huffman;
pub mod lzx;
pub mod xpress;

pub use codec_error::CodecError;
