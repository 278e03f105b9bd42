//! Picks the chunk decoder for a WIM's compression type, keeps its tables between chunks,
//! and insists on the exact size.

use crate::codec_error::CodecError;
use crate::header::Compression;
use crate::lzx::LzxDecoder;
use crate::xpress::XpressDecoder;

/// Writes the `length` bytes that start `offset` bytes before `pos` again at `pos`: an LZ77
/// match, as both LZX and XPRESS spell one. The source may overlap what the copy writes (a
/// run), so later bytes repeat ones this very copy wrote. The caller has checked that
/// `0 < offset <= pos` and that `length` bytes fit at `pos`.
#[inline(always)]
pub(crate) fn copy_back(output: &mut [u8], pos: usize, offset: usize, length: usize) {
    let src = pos - offset;
    if offset >= length {
        output.copy_within(src..src + length, pos);
    } else if offset == 1 {
        let byte = output[src];
        output[pos..pos + length].fill(byte);
    } else {
        for i in pos..pos + length {
            output[i] = output[i - offset];
        }
    }
}

/// The decoders one reader uses, created on first need and reused for every chunk.
#[derive(Default)]
pub(crate) struct ChunkDecoder {
    lzx: Option<Box<LzxDecoder>>,
    xpress: Option<Box<XpressDecoder>>,
}

impl ChunkDecoder {
    /// Decompresses one chunk of a WIM with chunks of `chunk_size` bytes to exactly
    /// `uncompressed_len` bytes. LZX's window is the WIM's chunk size, also for a short last
    /// chunk.
    pub(crate) fn decompress(
        &mut self,
        compression: Compression,
        input: &[u8],
        uncompressed_len: usize,
        chunk_size: usize,
    ) -> Result<Vec<u8>, CodecError> {
        let mut out = vec![0u8; uncompressed_len];
        match compression {
            Compression::Xpress => self.xpress.get_or_insert_default().decompress_into(input, &mut out)?,
            Compression::Lzx => self
                .lzx
                .get_or_insert_default()
                .decompress_into(input, &mut out, chunk_size)?,
            // Layouts never send an uncompressed resource here; if one did, this refuses it.
            Compression::None => {
                return Err(CodecError::SizeMismatch {
                    expected: uncompressed_len,
                    actual: input.len(),
                });
            }
        }
        Ok(out)
    }
}
