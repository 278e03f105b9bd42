//! WIM image reading for makguard. This part holds the two chunk decompressors a WIM reader
//! needs, [`lzx`] and [`xpress`], and their shared error type [`CodecError`].

mod codec_bits;
mod codec_error;
mod codec_huffman;
pub mod lzx;
pub mod xpress;

pub use codec_error::CodecError;
