//! The LZX decompressor for WIM resource chunks.
//!
//! WIM's LZX is the cabinet / [MS-PATCH] LZX block format with WIM's own framing: every chunk
//! is decoded on its own (repeat offsets start at 1, code lengths start at zero), the window
//! is the WIM's chunk size, there is no E8 header bit (x86 call translation is always undone,
//! with a translation size of 12,000,000, positions counted from the chunk start, and never in
//! a chunk's last 10 bytes), and a block's size is a 1-bit "32,768" flag or else a 16-bit field
//! (followed by 8 more low bits when the window is 64 KiB or larger).
//!
//! Every read is bounds-checked and every loop is bounded by the output size, so corrupt input
//! yields a [`CodecError`], never a panic, a hang, or an allocation beyond the chunk.

use crate::CodecError;
use crate::codec_bits::WordBitReader;
use crate::codec_huffman::HuffmanTable;

/// The largest chunk (and window) this decoder accepts: LZX's 2 MiB maximum window.
pub const MAX_CHUNK_SIZE: usize = 1 << 21;

const MIN_WINDOW_ORDER: u32 = 15;
const MAX_WINDOW_ORDER: u32 = 21;
const NUM_CHARS: usize = 256;
const LEN_HEADERS: usize = 8;
const MAX_OFFSET_SLOTS: usize = 50;
const MAX_MAIN_SYMBOLS: usize = NUM_CHARS + LEN_HEADERS * MAX_OFFSET_SLOTS;
const LENGTH_SYMBOLS: usize = 249;
const PRETREE_SYMBOLS: usize = 20;
const ALIGNED_SYMBOLS: usize = 8;
const MIN_MATCH: usize = 2;
const DEFAULT_BLOCK_SIZE: usize = 32_768;
const E8_TRANSLATION_SIZE: i32 = 12_000_000;
const E8_UNTRANSLATED_TAIL: usize = 10;

const BLOCK_VERBATIM: u32 = 1;
const BLOCK_ALIGNED: u32 = 2;
const BLOCK_UNCOMPRESSED: u32 = 3;

/// Extra ("footer") bits per offset slot: 0 for slots 0..4, then one more every two slots,
/// capped at 17.
const FOOTER_BITS: [u32; MAX_OFFSET_SLOTS] = footer_bits();
/// The smallest formatted offset of each offset slot.
const SLOT_BASE: [u32; MAX_OFFSET_SLOTS] = slot_bases();

const fn footer_bits() -> [u32; MAX_OFFSET_SLOTS] {
    let mut bits = [0; MAX_OFFSET_SLOTS];
    let mut slot = 4;
    while slot < MAX_OFFSET_SLOTS {
        let n = (slot as u32 - 2) / 2;
        bits[slot] = if n > 17 { 17 } else { n };
        slot += 1;
    }
    bits
}

const fn slot_bases() -> [u32; MAX_OFFSET_SLOTS] {
    let bits = footer_bits();
    let mut base = [0; MAX_OFFSET_SLOTS];
    let mut slot = 1;
    while slot < MAX_OFFSET_SLOTS {
        base[slot] = base[slot - 1] + (1 << bits[slot - 1]);
        slot += 1;
    }
    base
}

/// Decompresses one WIM LZX chunk (independent, window = chunk size, WIM variant).
///
/// The window is taken to be `uncompressed_len` rounded up to a power of two (at least
/// 32 KiB). That is right for every chunk of a WIM with the default 32 KiB chunk size and for
/// every full chunk otherwise; the short last chunk of a resource in a WIM with a larger chunk
/// size needs [`decompress_lzx_chunk_in_window`] with the WIM's chunk size.
///
/// # Errors
///
/// As [`decompress_lzx_chunk_in_window`].
pub fn decompress_lzx_chunk(input: &[u8], uncompressed_len: usize) -> Result<Vec<u8>, CodecError> {
    decompress_lzx_chunk_in_window(input, uncompressed_len, uncompressed_len)
}

/// Decompresses one WIM LZX chunk compressed with a window of `window_size` bytes (the WIM
/// header's chunk size; at most [`MAX_CHUNK_SIZE`] and at least `uncompressed_len`).
///
/// # Errors
///
/// A [`CodecError`] when the chunk or window size is out of range or the compressed data is
/// truncated or invalid.
pub fn decompress_lzx_chunk_in_window(
    input: &[u8],
    uncompressed_len: usize,
    window_size: usize,
) -> Result<Vec<u8>, CodecError> {
    check_chunk_size(uncompressed_len)?;
    window_order(window_size, uncompressed_len)?;
    let mut output = vec![0; uncompressed_len];
    LzxDecoder::new().decompress_into(input, &mut output, window_size)?;
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

/// log2 of the window LZX uses for `window_size`, which must hold a chunk of `chunk` bytes.
fn window_order(window_size: usize, chunk: usize) -> Result<u32, CodecError> {
    if window_size > MAX_CHUNK_SIZE || window_size < chunk {
        return Err(CodecError::InvalidWindow {
            window: window_size,
            chunk,
        });
    }
    let order = window_size.max(1).next_power_of_two().trailing_zeros();
    Ok(order.clamp(MIN_WINDOW_ORDER, MAX_WINDOW_ORDER))
}

/// The number of offset slots LZX defines for a window of 2^order bytes.
fn offset_slots(order: u32) -> usize {
    match order {
        ..=15 => 30,
        16 => 32,
        17 => 34,
        18 => 36,
        19 => 38,
        20 => 42,
        _ => 50,
    }
}

/// A reusable LZX chunk decoder: it keeps its decode tables between chunks so a WIM reader
/// decoding many chunks allocates them once. Each call still decodes its chunk independently.
#[derive(Debug, Clone)]
pub struct LzxDecoder {
    main: HuffmanTable,
    length: HuffmanTable,
    aligned: HuffmanTable,
    pretree: HuffmanTable,
    main_lens: [u8; MAX_MAIN_SYMBOLS],
    length_lens: [u8; LENGTH_SYMBOLS],
}

impl Default for LzxDecoder {
    fn default() -> Self {
        Self::new()
    }
}

/// The state of one chunk's decoding that outlives a block.
struct ChunkState {
    repeat_offsets: [usize; 3],
    main_symbols: usize,
    large_window: bool,
}

impl LzxDecoder {
    /// A decoder with empty tables.
    pub fn new() -> LzxDecoder {
        LzxDecoder {
            main: HuffmanTable::new(11),
            length: HuffmanTable::new(10),
            aligned: HuffmanTable::new(7),
            pretree: HuffmanTable::new(7),
            main_lens: [0; MAX_MAIN_SYMBOLS],
            length_lens: [0; LENGTH_SYMBOLS],
        }
    }

    /// Decompresses one chunk into `output`, whose length is the chunk's uncompressed size,
    /// with a window of `window_size` bytes (the WIM's chunk size). On success every byte of
    /// `output` was written by the stream.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] when the chunk or window size is out of range or the compressed data is
    /// truncated or invalid.
    pub fn decompress_into(&mut self, input: &[u8], output: &mut [u8], window_size: usize) -> Result<(), CodecError> {
        check_chunk_size(output.len())?;
        let order = window_order(window_size, output.len())?;
        self.main_lens.fill(0);
        self.length_lens.fill(0);
        let mut state = ChunkState {
            repeat_offsets: [1; 3],
            main_symbols: NUM_CHARS + LEN_HEADERS * offset_slots(order),
            large_window: order >= 16,
        };
        let mut bits = WordBitReader::new(input, 0);
        let mut out_pos = 0;
        while out_pos < output.len() {
            out_pos = self.decode_block(&mut bits, input, output, out_pos, &mut state)?;
        }
        if bits.overran() {
            return Err(CodecError::Truncated("LZX stream ended inside the last block"));
        }
        undo_e8_translation(output);
        Ok(())
    }

    /// Decodes the block starting at `out_pos` and returns where the next block starts.
    fn decode_block<'a>(
        &mut self,
        bits: &mut WordBitReader<'a>,
        input: &'a [u8],
        output: &mut [u8],
        out_pos: usize,
        state: &mut ChunkState,
    ) -> Result<usize, CodecError> {
        let block_type = bits.read(3);
        let block_size = read_block_size(bits, state.large_window);
        if bits.overran() {
            return Err(CodecError::Truncated("LZX stream ended inside a block header"));
        }
        let block_end = out_pos + block_size;
        if block_end > output.len() {
            return Err(CodecError::SizeMismatch {
                expected: output.len(),
                actual: block_end,
            });
        }
        match block_type {
            BLOCK_VERBATIM | BLOCK_ALIGNED => {
                let aligned = block_type == BLOCK_ALIGNED;
                self.read_trees(bits, aligned, state.main_symbols)?;
                self.decode_compressed(bits, output, out_pos, block_end, aligned, &mut state.repeat_offsets)?;
            }
            BLOCK_UNCOMPRESSED => {
                *bits = copy_uncompressed(bits, input, &mut output[out_pos..block_end], &mut state.repeat_offsets)?;
            }
            _ => return Err(CodecError::InvalidBlock("unknown block type")),
        }
        Ok(block_end)
    }

    fn read_trees(
        &mut self,
        bits: &mut WordBitReader<'_>,
        aligned: bool,
        main_symbols: usize,
    ) -> Result<(), CodecError> {
        if aligned {
            let mut lens = [0u8; ALIGNED_SYMBOLS];
            for len in &mut lens {
                *len = bits.read(3) as u8;
            }
            self.aligned.rebuild(&lens)?;
        }
        read_code_lens(bits, &mut self.pretree, &mut self.main_lens[..NUM_CHARS])?;
        read_code_lens(bits, &mut self.pretree, &mut self.main_lens[NUM_CHARS..main_symbols])?;
        self.main.rebuild(&self.main_lens[..main_symbols])?;
        read_code_lens(bits, &mut self.pretree, &mut self.length_lens)?;
        self.length.rebuild(&self.length_lens)?;
        if bits.overran() {
            return Err(CodecError::Truncated("LZX stream ended inside the block's code tables"));
        }
        Ok(())
    }

    fn decode_compressed(
        &self,
        bits: &mut WordBitReader<'_>,
        output: &mut [u8],
        mut out_pos: usize,
        block_end: usize,
        aligned: bool,
        repeat_offsets: &mut [usize; 3],
    ) -> Result<(), CodecError> {
        while out_pos < block_end {
            let main = decode_symbol(bits, &self.main)?;
            if main < NUM_CHARS {
                output[out_pos] = main as u8;
                out_pos += 1;
                continue;
            }
            let header = main - NUM_CHARS;
            let mut length = header % LEN_HEADERS;
            if length == LEN_HEADERS - 1 {
                length += decode_symbol(bits, &self.length)?;
            }
            length += MIN_MATCH;
            let slot = header / LEN_HEADERS;
            let offset = if slot < 3 {
                repeat_offsets.swap(0, slot);
                repeat_offsets[0]
            } else {
                let offset = self.read_offset(bits, slot, aligned)?;
                repeat_offsets[2] = repeat_offsets[1];
                repeat_offsets[1] = repeat_offsets[0];
                repeat_offsets[0] = offset;
                offset
            };
            copy_match(output, out_pos, offset, length, block_end)?;
            out_pos += length;
        }
        Ok(())
    }

    /// The match offset of an explicit (non-repeat) offset slot.
    #[inline(always)]
    fn read_offset(&self, bits: &mut WordBitReader<'_>, slot: usize, aligned: bool) -> Result<usize, CodecError> {
        let extra = FOOTER_BITS[slot];
        let footer = if aligned && extra >= 3 {
            (bits.read(extra - 3) << 3) + decode_symbol(bits, &self.aligned)? as u32
        } else {
            bits.read(extra)
        };
        // Formatted offsets 0..=2 name the repeat offsets, so real offsets are shifted by 2.
        Ok((SLOT_BASE[slot] + footer) as usize - 2)
    }
}

fn read_block_size(bits: &mut WordBitReader<'_>, large_window: bool) -> usize {
    if bits.read(1) == 1 {
        return DEFAULT_BLOCK_SIZE;
    }
    let high = bits.read(16) as usize;
    if large_window {
        (high << 8) | bits.read(8) as usize
    } else {
        high
    }
}

#[inline(always)]
fn decode_symbol(bits: &mut WordBitReader<'_>, table: &HuffmanTable) -> Result<usize, CodecError> {
    let decoded = table.decode(bits.peek())?;
    bits.consume(decoded.len);
    Ok(decoded.symbol as usize)
}

/// Reads a pretree and, with it, the new code lengths `lens` as deltas from the previous
/// block's lengths (LZX's tree-update encoding).
fn read_code_lens(bits: &mut WordBitReader<'_>, pretree: &mut HuffmanTable, lens: &mut [u8]) -> Result<(), CodecError> {
    let mut pretree_lens = [0u8; PRETREE_SYMBOLS];
    for len in &mut pretree_lens {
        *len = bits.read(4) as u8;
    }
    pretree.rebuild(&pretree_lens)?;
    let mut i = 0;
    while i < lens.len() {
        let (run, value) = match decode_symbol(bits, pretree)? {
            delta @ 0..=16 => (1, delta_len(lens[i], delta)),
            17 => (4 + bits.read(4) as usize, 0),
            18 => (20 + bits.read(5) as usize, 0),
            _ => {
                let run = 4 + bits.read(1) as usize;
                match decode_symbol(bits, pretree)? {
                    delta @ 0..=16 => (run, delta_len(lens[i], delta)),
                    _ => return Err(CodecError::InvalidHuffmanCode("pretree run of a run")),
                }
            }
        };
        let run_lens = lens.get_mut(i..i + run).ok_or(CodecError::InvalidHuffmanCode(
            "code-length run past the end of the table",
        ))?;
        run_lens.fill(value);
        i += run;
    }
    Ok(())
}

/// A pretree delta symbol applied to the previous code length, modulo 17.
fn delta_len(previous: u8, delta: usize) -> u8 {
    ((usize::from(previous) + 17 - delta) % 17) as u8
}

/// Copies an uncompressed block's bytes (after its repeat offsets) into `block` and returns a
/// bit reader positioned after the block and its padding byte.
fn copy_uncompressed<'a>(
    bits: &mut WordBitReader<'a>,
    input: &'a [u8],
    block: &mut [u8],
    repeat_offsets: &mut [usize; 3],
) -> Result<WordBitReader<'a>, CodecError> {
    let start = bits.align_to_bytes();
    let truncated = CodecError::Truncated("LZX uncompressed block extends past the input");
    let header = input.get(start..start.saturating_add(12)).ok_or(truncated.clone())?;
    for (offset, bytes) in repeat_offsets.iter_mut().zip(header.chunks_exact(4)) {
        *offset = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    }
    let data_start = start + 12;
    let data = input.get(data_start..data_start + block.len()).ok_or(truncated)?;
    block.copy_from_slice(data);
    // An odd-sized block is padded to keep the following block 16-bit aligned.
    let next = data_start + block.len() + (block.len() & 1);
    Ok(WordBitReader::new(input, next))
}

/// Copies a `length`-byte match from `offset` bytes back, within the current block.
#[inline(always)]
fn copy_match(output: &mut [u8], pos: usize, offset: usize, length: usize, block_end: usize) -> Result<(), CodecError> {
    if offset == 0 || offset > pos {
        return Err(CodecError::BadMatchOffset { offset, position: pos });
    }
    if length > block_end - pos {
        return Err(CodecError::BadMatchLength {
            length,
            position: pos,
            limit: block_end - pos,
        });
    }
    crate::codec::copy_back(output, pos, offset, length);
    Ok(())
}

/// Undoes the compressor's x86 CALL (E8) translation in a whole decoded chunk: each 32-bit
/// operand after an 0xE8 byte was turned from a relative into an absolute target, when the
/// result lay in `[-position, 12,000,000)`.
fn undo_e8_translation(chunk: &mut [u8]) {
    if chunk.len() <= E8_UNTRANSLATED_TAIL {
        return;
    }
    let end = chunk.len() - E8_UNTRANSLATED_TAIL;
    let mut i = 0;
    while let Some(pos) = find_e8(chunk, i, end) {
        undo_e8_target(chunk, pos);
        i = pos + 5;
    }
}

/// The first 0xE8 byte in `chunk[from..end]`, checked eight bytes at a time.
#[inline(always)]
fn find_e8(chunk: &[u8], from: usize, end: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= end {
        let word = u64::from_le_bytes(chunk[i..i + 8].try_into().unwrap_or_default());
        let x = word ^ (0xE8 * ONES);
        // The lowest flagged byte is exactly the first zero byte of `x` (the classic
        // has-zero-byte test only over-reports bytes above a real zero).
        let zero_bytes = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero_bytes != 0 {
            return Some(i + (zero_bytes.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    chunk.get(i..end)?.iter().position(|&b| b == 0xE8).map(|p| i + p)
}

fn undo_e8_target(chunk: &mut [u8], pos: usize) {
    let operand = &mut chunk[pos + 1..pos + 5];
    let absolute = i32::from_le_bytes([operand[0], operand[1], operand[2], operand[3]]);
    // Chunk positions are below 2 MiB, so they fit an i32.
    let position = pos as i32;
    let relative = if (0..E8_TRANSLATION_SIZE).contains(&absolute) {
        absolute - position
    } else if absolute < 0 && absolute >= -position {
        absolute + E8_TRANSLATION_SIZE
    } else {
        return;
    };
    operand.copy_from_slice(&relative.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_slot_tables_match_lzx() {
        assert_eq!(&FOOTER_BITS[..8], &[0, 0, 0, 0, 1, 1, 2, 2]);
        assert_eq!(FOOTER_BITS[36], 17);
        assert_eq!(FOOTER_BITS[49], 17);
        assert_eq!(SLOT_BASE[4], 4);
        assert_eq!(SLOT_BASE[29], 24_576);
        assert_eq!(SLOT_BASE[30], 32_768);
        assert_eq!(SLOT_BASE[36], 262_144);
        // Each window's slots cover every offset up to the window size.
        for order in MIN_WINDOW_ORDER..=MAX_WINDOW_ORDER {
            let slots = offset_slots(order);
            let last = slots - 1;
            let largest = SLOT_BASE[last] + (1 << FOOTER_BITS[last]) - 1 - 2;
            assert!(largest as usize >= (1 << order) - 3, "order {order}");
        }
    }

    #[test]
    fn e8_targets_translate_by_the_documented_rule() {
        // At position 0 an absolute target of 0 stays 0; at position 16 it becomes -16.
        let mut chunk = vec![0u8; 32];
        chunk[0] = 0xE8;
        chunk[16] = 0xE8;
        undo_e8_translation(&mut chunk);
        assert_eq!(&chunk[1..5], &0i32.to_le_bytes());
        assert_eq!(&chunk[17..21], &(-16i32).to_le_bytes());

        // A negative absolute target within reach of the chunk start wraps by the translation
        // size; one beyond it and one at the translation size are left alone.
        let mut chunk = vec![0u8; 40];
        chunk[8] = 0xE8;
        chunk[9..13].copy_from_slice(&(-8i32).to_le_bytes());
        chunk[20] = 0xE8;
        chunk[21..25].copy_from_slice(&(-21i32).to_le_bytes());
        chunk[25] = 0xE8;
        chunk[26..30].copy_from_slice(&E8_TRANSLATION_SIZE.to_le_bytes());
        undo_e8_translation(&mut chunk);
        assert_eq!(&chunk[9..13], &(E8_TRANSLATION_SIZE - 8).to_le_bytes());
        assert_eq!(&chunk[21..25], &(-21i32).to_le_bytes());
        assert_eq!(&chunk[26..30], &E8_TRANSLATION_SIZE.to_le_bytes());
    }

    #[test]
    fn finds_every_e8_byte_at_any_alignment() {
        for (len, filler) in (0..40).flat_map(|len| [0xE7u8, 0xE9, 0x68, 0x00, 0xFF].map(|f| (len, f))) {
            for at in 0..len {
                let mut chunk = vec![filler; len];
                chunk[at] = 0xE8;
                for from in 0..=at {
                    assert_eq!(find_e8(&chunk, from, len), Some(at), "len {len} at {at} from {from}");
                }
                assert_eq!(find_e8(&chunk, at + 1, len), None);
                assert_eq!(find_e8(&chunk, 0, at), None);
            }
        }
    }

    #[test]
    fn e8_bytes_in_the_last_ten_are_left_alone() {
        let mut chunk = vec![0u8; 20];
        chunk[10] = 0xE8;
        chunk[11] = 0x20;
        let before = chunk.clone();
        undo_e8_translation(&mut chunk);
        assert_eq!(chunk, before);
        chunk[9] = 0xE8;
        undo_e8_translation(&mut chunk);
        assert_ne!(chunk, before);
    }

    #[test]
    fn rejects_oversized_chunks_before_allocating() {
        assert!(matches!(
            decompress_lzx_chunk(&[], MAX_CHUNK_SIZE + 1),
            Err(CodecError::ChunkTooLarge { .. })
        ));
        assert!(matches!(
            decompress_lzx_chunk_in_window(&[], 70_000, 65_536),
            Err(CodecError::InvalidWindow { .. })
        ));
    }

    #[test]
    fn empty_input_is_truncated() {
        assert!(matches!(decompress_lzx_chunk(&[], 100), Err(CodecError::Truncated(_))));
        assert_eq!(decompress_lzx_chunk(&[], 0), Ok(Vec::new()));
    }
}
