//! LZX block framing that wimlib's compressor never produces (it stores an incompressible
//! chunk raw instead of emitting uncompressed blocks), checked on hand-built streams: an
//! uncompressed block's 16-bit realignment (a whole padding word when already aligned), its
//! R0..R2 fields feeding later repeat-offset matches, the padding byte after an odd-sized
//! block, E8 translation over uncompressed data, and matches that overrun their block.

use makguard_wim::CodecError;
use makguard_wim::lzx::decompress_lzx_chunk;

/// Writes LZX's bitstream: bits most-significant first into 16-bit little-endian words, with
/// raw bytes appended at word boundaries for uncompressed blocks.
#[derive(Default)]
struct LzxWriter {
    out: Vec<u8>,
    acc: u32,
    pending: u32,
    bits_written: usize,
}

impl LzxWriter {
    fn bits(&mut self, value: u32, count: u32) {
        for i in (0..count).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.pending += 1;
            self.bits_written += 1;
            if self.pending == 16 {
                self.out.extend((self.acc as u16).to_le_bytes());
                self.acc = 0;
                self.pending = 0;
            }
        }
    }

    /// LZX's realignment before an uncompressed block's byte fields: 1 to 16 zero bits.
    fn align(&mut self) {
        let padding = 16 - self.pending;
        self.bits(0, padding);
    }

    fn uncompressed_block(&mut self, data: &[u8], repeat_offsets: [u32; 3]) {
        self.bits(3, 3);
        self.block_size(data.len());
        self.align();
        for offset in repeat_offsets {
            self.out.extend(offset.to_le_bytes());
        }
        self.out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            self.out.push(0);
        }
        self.bits_written = 0;
    }

    fn block_size(&mut self, size: usize) {
        if size == 32_768 {
            self.bits(1, 1);
        } else {
            self.bits(0, 1);
            self.bits(size as u32, 16);
        }
    }

    /// A verbatim block for a 32 KiB window using [`MainCode`], sending its code lengths as
    /// deltas from `previous` (all zero for a chunk's first compressed block).
    fn verbatim_block(&mut self, size: usize, previous: &[u8; MAIN_SYMBOLS], symbols: &[Symbol]) {
        self.bits(1, 3);
        self.block_size(size);
        let lens = main_code_lens();
        self.code_lens(&previous[..256], &lens[..256]);
        self.code_lens(&previous[256..], &lens[256..]);
        self.code_lens(&[0; 249], &[0; 249]);
        for symbol in symbols {
            let (code, len) = symbol.code();
            self.bits(code, len);
        }
    }

    /// A pretree giving delta symbols 0..=15 four-bit codes (code = symbol), then the deltas.
    fn code_lens(&mut self, previous: &[u8], lens: &[u8]) {
        for symbol in 0..20 {
            self.bits(if symbol < 16 { 4 } else { 0 }, 4);
        }
        for (&old, &new) in previous.iter().zip(lens) {
            let delta = (17 + u32::from(old) - u32::from(new)) % 17;
            assert!(delta < 16, "delta {delta} not in this test pretree");
            self.bits(delta, 4);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.align();
        }
        self.out
    }
}

const MAIN_SYMBOLS: usize = 256 + 8 * 30;

/// The symbols the test main code can send.
#[derive(Clone, Copy)]
enum Symbol {
    Literal(u8),
    /// A match of length 2, 3 or 4 at repeat offset R0.
    R0(u32),
    /// A match of length 2 at repeat offset R1.
    R1,
    /// A match of length 2 at repeat offset R2.
    R2,
}

/// Main code lengths: literals 9 bits (codes 256 + byte), R0 matches of length 2/3/4 three
/// bits (000, 001, 010), R1 and R2 matches of length 2 four bits (0110, 0111). A complete code.
fn main_code_lens() -> [u8; MAIN_SYMBOLS] {
    let mut lens = [0u8; MAIN_SYMBOLS];
    lens[..256].fill(9);
    lens[256] = 3;
    lens[257] = 3;
    lens[258] = 3;
    lens[256 + 8] = 4;
    lens[256 + 16] = 4;
    lens
}

impl Symbol {
    fn code(self) -> (u32, u32) {
        match self {
            Symbol::Literal(byte) => (256 + u32::from(byte), 9),
            Symbol::R0(len) => (len - 2, 3),
            Symbol::R1 => (0b0110, 4),
            Symbol::R2 => (0b0111, 4),
        }
    }
}

fn literals(bytes: &[u8]) -> Vec<Symbol> {
    bytes.iter().map(|&b| Symbol::Literal(b)).collect()
}

#[test]
fn uncompressed_block_after_an_unaligned_header() {
    let mut writer = LzxWriter::default();
    writer.uncompressed_block(b"hello, world", [1, 1, 1]);
    assert_eq!(decompress_lzx_chunk(&writer.finish(), 12).unwrap(), b"hello, world");
}

#[test]
fn uncompressed_block_header_ending_on_a_word_boundary_is_followed_by_a_whole_padding_word() {
    // 9-bit literals shift where the verbatim block ends; pick a count that makes the next
    // block's 20-bit header end exactly on a 16-bit boundary.
    let probe = |count: usize| {
        let mut writer = LzxWriter::default();
        writer.verbatim_block(count, &[0; MAIN_SYMBOLS], &literals(&vec![b'x'; count]));
        writer.bits_written
    };
    let count = (1..=16).find(|&n| (probe(n) + 20) % 16 == 0).unwrap();
    let mut writer = LzxWriter::default();
    writer.verbatim_block(count, &[0; MAIN_SYMBOLS], &literals(&vec![b'x'; count]));
    writer.uncompressed_block(b"after padding", [1, 1, 1]);
    let mut expected = vec![b'x'; count];
    expected.extend_from_slice(b"after padding");
    assert_eq!(
        decompress_lzx_chunk(&writer.finish(), expected.len()).unwrap(),
        expected
    );
}

#[test]
fn repeat_offsets_come_from_the_uncompressed_block() {
    let mut writer = LzxWriter::default();
    writer.uncompressed_block(b"abcdefgh", [2, 5, 8]);
    // R1 (5) swaps with R0: "de"; R0 (now 5) length 3: "fgh"; R2 (8) swaps with R0: "fg".
    writer.verbatim_block(7, &[0; MAIN_SYMBOLS], &[Symbol::R1, Symbol::R0(3), Symbol::R2]);
    assert_eq!(decompress_lzx_chunk(&writer.finish(), 15).unwrap(), b"abcdefghdefghfg");
}

#[test]
fn trees_carry_over_between_blocks_as_deltas() {
    let mut writer = LzxWriter::default();
    writer.verbatim_block(3, &[0; MAIN_SYMBOLS], &literals(b"abc"));
    // The second block sends all-zero deltas: the same code again.
    writer.verbatim_block(5, &main_code_lens(), &[Symbol::Literal(b'd'), Symbol::R0(4)]);
    assert_eq!(decompress_lzx_chunk(&writer.finish(), 8).unwrap(), b"abcddddd");
}

#[test]
fn odd_sized_uncompressed_block_is_padded_to_a_word() {
    let mut writer = LzxWriter::default();
    writer.uncompressed_block(b"abc", [1, 1, 1]);
    writer.uncompressed_block(b"defghijklmno", [1, 1, 1]);
    assert_eq!(decompress_lzx_chunk(&writer.finish(), 15).unwrap(), b"abcdefghijklmno");
}

#[test]
fn e8_translation_covers_uncompressed_data_and_a_zero_target() {
    // An absolute target of 0 at position 3 was a relative target of -3.
    let mut data = b"abc\xE8\0\0\0\0".to_vec();
    data.extend_from_slice(b"0123456789");
    let mut writer = LzxWriter::default();
    writer.uncompressed_block(&data, [1, 1, 1]);
    let out = decompress_lzx_chunk(&writer.finish(), data.len()).unwrap();
    assert_eq!(&out[..4], b"abc\xE8");
    assert_eq!(&out[4..8], &(-3i32).to_le_bytes());
    assert_eq!(&out[8..], b"0123456789");
}

#[test]
fn truncated_uncompressed_block_is_an_error() {
    let mut writer = LzxWriter::default();
    writer.uncompressed_block(b"hello, world", [1, 1, 1]);
    let stream = writer.finish();
    for cut in 0..stream.len() {
        assert!(
            matches!(decompress_lzx_chunk(&stream[..cut], 12), Err(CodecError::Truncated(_))),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_match_may_not_overrun_its_block() {
    let mut writer = LzxWriter::default();
    writer.verbatim_block(3, &[0; MAIN_SYMBOLS], &[Symbol::Literal(b'a'), Symbol::R0(4)]);
    writer.uncompressed_block(b"bb", [1, 1, 1]);
    assert!(matches!(
        decompress_lzx_chunk(&writer.finish(), 5),
        Err(CodecError::BadMatchLength { .. })
    ));
}

#[test]
fn a_repeat_offset_of_zero_or_before_the_chunk_is_an_error() {
    let mut writer = LzxWriter::default();
    writer.uncompressed_block(b"ab", [0, 1, 1]);
    writer.verbatim_block(2, &[0; MAIN_SYMBOLS], &[Symbol::R0(2)]);
    assert!(matches!(
        decompress_lzx_chunk(&writer.finish(), 4),
        Err(CodecError::BadMatchOffset { .. })
    ));
    let mut writer = LzxWriter::default();
    writer.uncompressed_block(b"ab", [3, 1, 1]);
    writer.verbatim_block(2, &[0; MAIN_SYMBOLS], &[Symbol::R0(2)]);
    assert!(matches!(
        decompress_lzx_chunk(&writer.finish(), 4),
        Err(CodecError::BadMatchOffset { .. })
    ));
}
