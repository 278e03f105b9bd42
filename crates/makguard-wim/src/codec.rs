//! Picks the chunk decoder for a WIM's compression type, and insists on the exact size.

use crate::codec_error::CodecError;
use crate::header::Compression;

/// Decompresses one chunk to exactly `uncompressed_len` bytes.
pub(crate) fn decompress_chunk(
    compression: Compression,
    input: &[u8],
    uncompressed_len: usize,
) -> Result<Vec<u8>, CodecError> {
    let out = match compression {
        Compression::Xpress => crate::xpress::decompress_xpress_chunk(input, uncompressed_len)?,
        Compression::Lzx => crate::lzx::decompress_lzx_chunk(input, uncompressed_len)?,
        // Layouts never send an uncompressed resource here; if one did, the size check fails.
        Compression::None => input.to_vec(),
    };
    if out.len() != uncompressed_len {
        return Err(CodecError::SizeMismatch {
            expected: uncompressed_len,
            actual: out.len(),
        });
    }
    Ok(out)
}
