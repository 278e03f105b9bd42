//! The XPRESS (LZ77+Huffman, [MS-XCA] section 2.2) decompressor for WIM resource chunks.
//!
//! A chunk is a sequence of blocks, each producing up to 65,536 bytes of output (a WIM chunk
//! of 64 KiB or less is a single block): a 256-byte table of 512 4-bit code lengths, then
//! 16-bit little-endian words of Huffman codes read most-significant bit first, with the
//! extra bytes of long match lengths interleaved in the byte stream where the decoder's read
//! position is at that moment. So the bit reader here loads words exactly when [MS-XCA]'s
//! decoder does (whenever fewer than 16 bits remain), which fixes where those bytes are.
//!
//! The decoder runs until it has produced exactly the chunk's size and fails on anything else:
//! truncated input, invalid codes, or matches reaching before the chunk start or past its end.

use crate::CodecError;
use crate::codec_huffman::HuffmanTable;

/// The largest chunk this decoder accepts (the same 2 MiB bound as LZX).
pub const MAX_CHUNK_SIZE: usize = 1 << 21;

const TABLE_BYTES: usize = 256;
const SYMBOLS: usize = 512;
const BLOCK_OUTPUT: usize = 65_536;
const MIN_MATCH: usize = 3;

/// Decompresses one WIM XPRESS (LZ77+Huffman, [MS-XCA]) chunk.
///
/// # Errors
///
/// A [`CodecError`] when `uncompressed_len` exceeds the chunk size limit or the compressed
/// data is truncated or invalid.
pub fn decompress_xpress_chunk(input: &[u8], uncompressed_len: usize) -> Result<Vec<u8>, CodecError> {
    check_chunk_size(uncompressed_len)?;
    let mut output = vec![0; uncompressed_len];
    XpressDecoder::new().decompress_into(input, &mut output)?;
    Ok(output)
}

fn check_chunk_size(uncompressed_len: usize) -> Result<(), CodecError> {
    if uncompressed_len > MAX_CHUNK_SIZE {
        return Err(CodecError::ChunkTooLarge {
            requested: uncompressed_len,
            limit: MAX_CHUNK_SIZE,
        });
    }
    Ok(())
}

/// A reusable XPRESS chunk decoder (it keeps its decode table's memory between chunks).
#[derive(Debug, Clone)]
pub struct XpressDecoder {
    table: HuffmanTable,
}

impl Default for XpressDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl XpressDecoder {
    /// A decoder with an empty table.
    pub fn new() -> XpressDecoder {
        XpressDecoder {
            table: HuffmanTable::new(12),
        }
    }

    /// Decompresses one chunk into `output`, whose length is the chunk's uncompressed size.
    /// On success every byte of `output` was written by the stream.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] when the chunk exceeds the chunk size limit or the compressed data is
    /// truncated or invalid.
    pub fn decompress_into(&mut self, input: &[u8], output: &mut [u8]) -> Result<(), CodecError> {
        check_chunk_size(output.len())?;
        let mut in_pos = 0;
        let mut out_pos = 0;
        while out_pos < output.len() {
            self.read_table(input, in_pos)?;
            let mut bits = XpressBits::new(input, in_pos + TABLE_BYTES);
            let block_end = output.len().min(out_pos + BLOCK_OUTPUT);
            out_pos = self.decode_block(&mut bits, output, out_pos, block_end)?;
            if bits.overran() {
                return Err(CodecError::Truncated(
                    "XPRESS stream ended before the chunk was complete",
                ));
            }
            in_pos = bits.pos;
        }
        Ok(())
    }

    fn read_table(&mut self, input: &[u8], at: usize) -> Result<(), CodecError> {
        let packed = input
            .get(at..at + TABLE_BYTES)
            .ok_or(CodecError::Truncated("XPRESS code-length table is incomplete"))?;
        let mut lens = [0u8; SYMBOLS];
        for (pair, &byte) in lens.chunks_exact_mut(2).zip(packed) {
            pair[0] = byte & 0x0F;
            pair[1] = byte >> 4;
        }
        self.table.rebuild(&lens)
    }

    /// Decodes symbols until the output reaches `block_end` (a match may run past it, as in
    /// [MS-XCA], but never past the chunk) and returns the output position reached.
    fn decode_block(
        &self,
        bits: &mut XpressBits<'_>,
        output: &mut [u8],
        mut out_pos: usize,
        block_end: usize,
    ) -> Result<usize, CodecError> {
        while out_pos < block_end {
            let decoded = self.table.decode(bits.window())?;
            bits.consume(decoded.len);
            let symbol = decoded.symbol as usize;
            if symbol < 256 {
                output[out_pos] = symbol as u8;
                out_pos += 1;
                continue;
            }
            let header = symbol - 256;
            let length = read_match_length(bits, header & 0x0F, out_pos)?;
            let offset_bits = (header >> 4) as u32;
            let offset = (1usize << offset_bits) + bits.read(offset_bits) as usize;
            copy_match(output, out_pos, offset, length)?;
            out_pos += length;
        }
        Ok(out_pos)
    }
}

/// The length of the match at output position `position` from its 4-bit header and, for
/// header 15, the extra length bytes.
fn read_match_length(bits: &mut XpressBits<'_>, header: usize, position: usize) -> Result<usize, CodecError> {
    if header < 15 {
        return Ok(header + MIN_MATCH);
    }
    let mut length = usize::from(bits.read_byte()?);
    if length == 255 {
        length = usize::from(bits.read_u16()?);
        if length == 0 {
            length = bits.read_u32()? as usize;
        }
        if length < 15 {
            // Lengths below 15 have shorter encodings; [MS-XCA] calls this one invalid.
            return Err(CodecError::BadMatchLength {
                length,
                position,
                limit: 15,
            });
        }
        length -= 15;
    }
    Ok(length.saturating_add(15 + MIN_MATCH))
}

#[inline(always)]
fn copy_match(output: &mut [u8], pos: usize, offset: usize, length: usize) -> Result<(), CodecError> {
    if offset > pos {
        return Err(CodecError::BadMatchOffset { offset, position: pos });
    }
    let room = output.len() - pos;
    if length > room {
        return Err(CodecError::BadMatchLength {
            length,
            position: pos,
            limit: room,
        });
    }
    crate::codec::copy_back(output, pos, offset, length);
    Ok(())
}

/// [MS-XCA]'s bit reader: at least 16 bits buffered after every read, loaded one 16-bit word
/// at a time exactly when fewer remain, so `pos` is where [MS-XCA] reads extra length bytes.
struct XpressBits<'a> {
    input: &'a [u8],
    pos: usize,
    /// Unconsumed bits, left-aligned.
    bits: u64,
    count: u32,
    /// Zero bits loaded from beyond the input's end; consumed once `count` drops below it.
    phantom: u32,
}

impl<'a> XpressBits<'a> {
    fn new(input: &'a [u8], pos: usize) -> XpressBits<'a> {
        let mut bits = XpressBits {
            input,
            pos,
            bits: 0,
            count: 0,
            phantom: 0,
        };
        bits.load_word();
        bits.load_word();
        bits
    }

    #[inline(always)]
    fn load_word(&mut self) {
        let word = if let Some(&[low, high]) = self.input.get(self.pos..self.pos.saturating_add(2)) {
            u16::from_le_bytes([low, high])
        } else {
            self.phantom = self.phantom.saturating_add(16);
            0
        };
        self.pos = self.pos.saturating_add(2);
        self.bits |= u64::from(word) << (48 - self.count);
        self.count += 16;
    }

    #[inline(always)]
    fn window(&self) -> u64 {
        self.bits
    }

    /// Drops `n` (at most 16) bits, then tops the buffer up to at least 16 bits.
    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.bits <<= n;
        self.count -= n;
        if self.count < 16 {
            self.load_word();
        }
    }

    #[inline(always)]
    fn read(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let value = (self.bits >> (64 - n)) as u32;
        self.consume(n);
        value
    }

    fn read_bytes<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let bytes = self
            .input
            .get(self.pos..self.pos.saturating_add(N))
            .ok_or(CodecError::Truncated("XPRESS match length bytes extend past the input"))?;
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn read_byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.read_bytes::<1>()?[0])
    }

    fn read_u16(&mut self) -> Result<u16, CodecError> {
        self.read_bytes().map(u16::from_le_bytes)
    }

    fn read_u32(&mut self) -> Result<u32, CodecError> {
        self.read_bytes().map(u32::from_le_bytes)
    }

    fn overran(&self) -> bool {
        self.phantom > self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table giving every literal and the 256 match symbols code length 9 (a complete code).
    fn flat_table() -> Vec<u8> {
        vec![0x99; TABLE_BYTES]
    }

    /// Packs 9-bit codes into the little-endian 16-bit words XPRESS reads MSB first.
    fn pack_codes(codes: &[(u32, u32)]) -> Vec<u8> {
        let mut acc: u64 = 0;
        let mut n = 0;
        let mut words = Vec::new();
        for &(code, len) in codes {
            acc = (acc << len) | u64::from(code);
            n += len;
            while n >= 16 {
                words.push((acc >> (n - 16)) as u16);
                n -= 16;
            }
        }
        if n > 0 {
            words.push((acc << (16 - n)) as u16);
        }
        words.extend([0, 0]);
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn decodes_literals_and_an_overlapping_match() {
        // With all lengths 9, symbol s has code s. "ab", then a match of length 4 at
        // offset 2 (symbol 256 + 1: length header 1, offset bits 1, extra bit 0).
        let mut input = flat_table();
        input.extend(pack_codes(&[
            (b'a'.into(), 9),
            (b'b'.into(), 9),
            (256 + 16 + 1, 9),
            (0, 1),
        ]));
        assert_eq!(decompress_xpress_chunk(&input, 6).unwrap(), b"ababab");
    }

    #[test]
    fn output_must_be_exactly_the_chunk_size() {
        let mut input = flat_table();
        input.extend(pack_codes(&[(b'a'.into(), 9), (256 + 16 + 1, 9), (0, 1)]));
        // The match reaches back 2 bytes from position 1.
        assert!(matches!(
            decompress_xpress_chunk(&input, 5),
            Err(CodecError::BadMatchOffset { .. })
        ));
        let mut input = flat_table();
        input.extend(pack_codes(&[(b'a'.into(), 9), (256 + 5, 9)]));
        // A match of 8 bytes does not fit a 4-byte chunk.
        assert!(matches!(
            decompress_xpress_chunk(&input, 4),
            Err(CodecError::BadMatchLength { .. })
        ));
        assert!(matches!(
            decompress_xpress_chunk(&flat_table(), 2),
            Err(CodecError::Truncated(_))
        ));
    }

    /// Packs codes into exactly `words` 16-bit words (zero-padded).
    fn pack_exact(codes: &[(u32, u32)], words: usize) -> Vec<u8> {
        let mut packed = pack_codes(codes);
        packed.resize(words * 2, 0);
        packed
    }

    #[test]
    fn a_match_may_cross_the_64k_block_boundary() {
        // 65,537 zeros as Windows' compressor encodes them (reported on the cifs-protocol
        // list, Nov 2022): one table with literal 0 and EOF at 2 bits and a
        // "length 15+, offset 1" match at 1 bit; bits 10 0 11; length bytes ff, fd ff.
        let mut input = vec![0u8; TABLE_BYTES];
        input[0] = 0x02;
        input[128] = 0x02;
        input[135] = 0x10;
        input.extend([0x00, 0x98, 0x00, 0x00, 0xff, 0xfd, 0xff]);
        assert_eq!(decompress_xpress_chunk(&input, 65_537).unwrap(), vec![0; 65_537]);
    }

    #[test]
    fn a_new_table_follows_each_64k_of_output() {
        // Block 1: 'a' and a match (offset 1) of 65,535 bytes: length header 15, then extra
        // bytes 255 and 65,532 (little-endian), which sit after the three words the decoder
        // has loaded by then. Block 2 starts right there with its own table: "bc".
        let mut input = flat_table();
        input.extend(pack_exact(&[(u32::from(b'a'), 9), (256 + 15, 9)], 3));
        input.extend([255, 0xFC, 0xFF]);
        input.extend(flat_table());
        input.extend(pack_exact(&[(u32::from(b'b'), 9), (u32::from(b'c'), 9)], 4));
        let mut expected = vec![b'a'; 65_536];
        expected.extend_from_slice(b"bc");
        assert_eq!(decompress_xpress_chunk(&input, expected.len()).unwrap(), expected);
        // Without the second table the stream is invalid.
        assert!(decompress_xpress_chunk(&input[..input.len() - 264], expected.len()).is_err());
    }

    #[test]
    fn an_extended_length_below_15_is_invalid() {
        let stream = |extended: u16| {
            let mut input = flat_table();
            input.extend(pack_exact(&[(u32::from(b'a'), 9), (256 + 15, 9)], 3));
            input.push(255);
            input.extend(extended.to_le_bytes());
            input.extend([0; 8]);
            input
        };
        assert!(matches!(
            decompress_xpress_chunk(&stream(14), 100),
            Err(CodecError::BadMatchLength { position: 1, .. })
        ));
        // 15 is the smallest valid value: a match of 15 + 3 bytes.
        assert_eq!(decompress_xpress_chunk(&stream(15), 19).unwrap(), vec![b'a'; 19]);
    }

    #[test]
    fn rejects_oversized_chunks_before_allocating() {
        assert!(matches!(
            decompress_xpress_chunk(&[], MAX_CHUNK_SIZE + 1),
            Err(CodecError::ChunkTooLarge { .. })
        ));
    }
}
