//! The LZX bit reader: 16-bit little-endian words read most-significant bit first.
//!
//! A 64-bit buffer is refilled a word at a time. Reading past the end of the input yields zero
//! bits (a decoder legitimately peeks past the last code), but those "phantom" bits are
//! counted, and [`WordBitReader::overran`] tells the decoder when it actually consumed any, so
//! a truncated chunk is an error and never an endless stream of zeros.

/// Reads bits from 16-bit little-endian words, most significant bit first.
pub(crate) struct WordBitReader<'a> {
    input: &'a [u8],
    /// The next byte to load into the buffer; may run past `input.len()` (phantom words).
    pos: usize,
    /// Unconsumed bits, left-aligned: the next bit is bit 63.
    bits: u64,
    /// How many bits of `bits` are valid.
    count: u32,
    /// How many zero bits were loaded from beyond the end of the input. They always sit at the
    /// tail of the buffer, so they were consumed once `count` drops below this.
    phantom: u32,
}

impl<'a> WordBitReader<'a> {
    /// A reader whose first word starts at byte `pos` of `input`.
    pub(crate) fn new(input: &'a [u8], pos: usize) -> WordBitReader<'a> {
        WordBitReader {
            input,
            pos,
            bits: 0,
            count: 0,
            phantom: 0,
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        while self.count <= 48 {
            let word = if let Some(&[low, high]) = self.input.get(self.pos..self.pos.saturating_add(2)) {
                u16::from_le_bytes([low, high])
            } else {
                // Bounded: phantom words accumulate only until the decoder's next
                // overrun check, and every caller loop is bounded by the output size.
                self.phantom = self.phantom.saturating_add(16);
                0
            };
            self.pos = self.pos.saturating_add(2);
            self.bits |= u64::from(word) << (48 - self.count);
            self.count += 16;
        }
    }

    /// The next bits, left-aligned, with at least 16 of them valid (enough for any code).
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> u64 {
        if self.count < 16 {
            self.refill();
        }
        self.bits
    }

    /// Drops `n` bits (at most 16) that [`Self::peek`] made available.
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.count);
        self.bits <<= n;
        self.count -= n;
    }

    /// Reads an `n`-bit (0..=32) unsigned value.
    #[inline(always)]
    pub(crate) fn read(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.count < n {
            self.refill();
        }
        let value = (self.bits >> (64 - n)) as u32;
        self.bits <<= n;
        self.count -= n;
        value
    }

    /// Whether any bit handed out so far came from beyond the end of the input.
    pub(crate) fn overran(&self) -> bool {
        self.phantom > self.count
    }

    /// Skips to the next 16-bit boundary, skipping a whole word when already on one (LZX's
    /// rule before an uncompressed block's byte-aligned fields), and returns the byte position
    /// the following data starts at (possibly past the end of the input).
    pub(crate) fn align_to_bytes(&mut self) -> usize {
        let remainder = self.count % 16;
        let skip = if remainder == 0 { 16 } else { remainder };
        self.read(skip);
        // Every whole word still buffered is unread input.
        self.pos.saturating_sub((self.count / 8) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_words_most_significant_bit_first() {
        // Words 0x1234 then 0xABCD, stored little-endian.
        let mut reader = WordBitReader::new(&[0x34, 0x12, 0xCD, 0xAB], 0);
        assert_eq!(reader.read(4), 0x1);
        assert_eq!(reader.read(12), 0x234);
        assert_eq!(reader.read(8), 0xAB);
        assert!(!reader.overran());
        assert_eq!(reader.read(8), 0xCD);
        assert!(!reader.overran());
        assert_eq!(reader.read(1), 0);
        assert!(reader.overran());
    }

    #[test]
    fn alignment_skips_a_whole_word_when_already_aligned() {
        let input = [0u8; 8];
        let mut reader = WordBitReader::new(&input, 0);
        reader.read(16);
        assert_eq!(reader.align_to_bytes(), 4);
        let mut reader = WordBitReader::new(&input, 0);
        reader.read(4);
        assert_eq!(reader.align_to_bytes(), 2);
    }
}
