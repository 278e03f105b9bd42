//! Picks the chunk decoder for a WIM's compression type.

use crate::header::Compression;

/// Decompresses one chunk to exactly `uncompressed_len` bytes, or says why it cannot.
pub(crate) fn decompress_chunk(
    compression: Compression,
    input: &[u8],
    uncompressed_len: usize,
) -> Result<Vec<u8>, String> {
    match compression {
        Compression::None => Err("an uncompressed resource has no compressed chunks".to_owned()),
        Compression::Xpress => Err("no XPRESS decoder is built in yet".to_owned()),
        Compression::Lzx => Err("no LZX decoder is built in yet".to_owned()),
    }
    .and_then(|out: Vec<u8>| check_len(out, input, uncompressed_len))
}

#[allow(dead_code)]
fn check_len(out: Vec<u8>, _input: &[u8], uncompressed_len: usize) -> Result<Vec<u8>, String> {
    if out.len() == uncompressed_len {
        Ok(out)
    } else {
        Err(format!("decoded {} bytes, expected {uncompressed_len}", out.len()))
    }
}
