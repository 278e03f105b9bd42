//! Table-driven decoding of canonical Huffman codes, shared by LZX and XPRESS.
//!
//! Both formats send only code lengths and read code bits most-significant first, so one
//! builder serves both. A primary table indexed by the next `primary_bits` bits resolves
//! short codes in one lookup; each longer code's prefix points at a secondary table indexed
//! by the following bits. Table memory is bounded by the alphabet size and the longest code
//! length (16), never by anything the input claims.

use crate::CodecError;

/// The longest code length either format can express.
pub(crate) const MAX_CODE_LEN: u32 = 16;

const SUBTABLE_FLAG: u32 = 1 << 31;
const VALUE_MASK: u32 = (1 << 20) - 1;
const LEN_SHIFT: u32 = 20;
const LEN_MASK: u32 = 0x1f;

/// A decode table for one canonical Huffman code. An entry of 0 marks bit patterns no code
/// uses (an incomplete code), which decode to an error rather than to a guess.
#[derive(Debug, Clone)]
pub(crate) struct HuffmanTable {
    primary_bits: u32,
    entries: Vec<u32>,
}

/// A decoded symbol and the number of bits its code occupies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoded {
    pub symbol: u32,
    pub len: u32,
}

impl HuffmanTable {
    /// An empty table whose primary lookup uses `primary_bits` bits (1..=16).
    pub(crate) fn new(primary_bits: u32) -> HuffmanTable {
        debug_assert!((1..=MAX_CODE_LEN).contains(&primary_bits));
        HuffmanTable {
            primary_bits,
            entries: vec![0; 1 << primary_bits],
        }
    }

    /// Rebuilds the table for the code whose symbol `i` has code length `lens[i]` (0 = unused).
    /// An all-zero code is accepted (it is sent for alphabets a block never uses) and decodes
    /// nothing; an over-subscribed code is an error.
    pub(crate) fn rebuild(&mut self, lens: &[u8]) -> Result<(), CodecError> {
        let mut count = [0u32; MAX_CODE_LEN as usize + 1];
        for &len in lens {
            if u32::from(len) > MAX_CODE_LEN {
                return Err(CodecError::InvalidHuffmanCode("code length above 16"));
            }
            count[usize::from(len)] += 1;
        }
        count[0] = 0;
        let mut next_code = [0u32; MAX_CODE_LEN as usize + 1];
        let mut code = 0u32;
        let mut max_len = 0;
        for len in 1..=MAX_CODE_LEN as usize {
            code = (code + count[len - 1]) << 1;
            next_code[len] = code;
            if count[len] > 0 {
                max_len = len as u32;
            }
            if code + count[len] > 1 << len {
                return Err(CodecError::InvalidHuffmanCode("over-subscribed code lengths"));
            }
        }
        self.fill(lens, &mut next_code, max_len);
        Ok(())
    }

    fn fill(&mut self, lens: &[u8], next_code: &mut [u32; MAX_CODE_LEN as usize + 1], max_len: u32) {
        let primary_bits = self.primary_bits;
        self.entries.clear();
        self.entries.resize(1 << primary_bits, 0);
        let sub_bits = max_len.saturating_sub(primary_bits);
        for (symbol, &len) in lens.iter().enumerate() {
            let len = u32::from(len);
            if len == 0 {
                continue;
            }
            let code = next_code[len as usize];
            next_code[len as usize] += 1;
            let entry = (len << LEN_SHIFT) | symbol as u32;
            if len <= primary_bits {
                let start = (code << (primary_bits - len)) as usize;
                self.entries[start..start + (1 << (primary_bits - len))].fill(entry);
            } else {
                let base = self.subtable_for(code >> (len - primary_bits), sub_bits);
                let suffix = code & ((1 << (len - primary_bits)) - 1);
                let start = base + (suffix << (max_len - len)) as usize;
                self.entries[start..start + (1 << (max_len - len))].fill(entry);
            }
        }
    }

    /// The start of the secondary table under primary slot `prefix`, created on first use.
    fn subtable_for(&mut self, prefix: u32, sub_bits: u32) -> usize {
        let slot = self.entries[prefix as usize];
        if slot & SUBTABLE_FLAG != 0 {
            return (slot & VALUE_MASK) as usize;
        }
        let base = self.entries.len();
        self.entries.resize(base + (1 << sub_bits), 0);
        self.entries[prefix as usize] = SUBTABLE_FLAG | (sub_bits << LEN_SHIFT) | base as u32;
        base
    }

    /// Decodes the symbol at the top of `bits`, a left-aligned window holding at least as many
    /// valid bits as the code's longest code length.
    #[inline(always)]
    pub(crate) fn decode(&self, bits: u64) -> Result<Decoded, CodecError> {
        let mut entry = self.entries[(bits >> (64 - self.primary_bits)) as usize];
        if entry & SUBTABLE_FLAG != 0 {
            let sub_bits = (entry >> LEN_SHIFT) & LEN_MASK;
            let index = ((bits << self.primary_bits) >> (64 - sub_bits)) as usize;
            entry = self.entries[(entry & VALUE_MASK) as usize + index];
        }
        let len = (entry >> LEN_SHIFT) & LEN_MASK;
        if len == 0 {
            return Err(CodecError::InvalidHuffmanCode("bit pattern assigned to no symbol"));
        }
        Ok(Decoded {
            symbol: entry & VALUE_MASK,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left_aligned(code: u64, len: u32) -> u64 {
        code << (64 - len)
    }

    #[test]
    fn decodes_canonical_codes_short_and_long() {
        // Lengths 1, 2, 3, 3 give codes 0, 10, 110, 111.
        let mut table = HuffmanTable::new(2);
        table.rebuild(&[1, 2, 3, 3]).unwrap();
        let cases = [(0b0, 1, 0), (0b10, 2, 1), (0b110, 3, 2), (0b111, 3, 3)];
        for (code, len, symbol) in cases {
            let decoded = table.decode(left_aligned(code, len)).unwrap();
            assert_eq!((decoded.symbol, decoded.len), (symbol, len), "code {code:b}");
        }
    }

    #[test]
    fn rejects_over_subscribed_and_flags_unused_patterns() {
        let mut table = HuffmanTable::new(4);
        assert!(table.rebuild(&[1, 1, 1]).is_err());
        table.rebuild(&[1, 0, 0]).unwrap();
        assert_eq!(table.decode(0).unwrap().symbol, 0);
        assert!(table.decode(u64::MAX).is_err());
        table.rebuild(&[0, 0, 0]).unwrap();
        assert!(table.decode(0).is_err());
    }
}
