//! The product key: parsing, the post-2009 ("N" form) decoding and checksum, masking and
//! fingerprints.
//!
//! A key's full text is a secret unless it is a public GVLK. `Display` and `Debug` therefore
//! mask every other key to its last group; the full text is reachable only through
//! [`ProductKey::reveal_unmasked`], which the CLI uses for `--show-keys` alone.

use std::fmt;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::catalog;

/// The 24 symbols of a key in value order (key-format.md §1).
pub const KEY_ALPHABET: &[u8; 24] = b"BCDFGHJKMPQRTVWXY2346789";

/// The 25 characters a key is written with, upper case: [`KEY_ALPHABET`] and the `N` whose
/// position a post-2009 key encodes. Scanners build their character classes from it.
pub const KEY_CHARS: [u8; 25] = key_chars();

const fn key_chars() -> [u8; 25] {
    let mut chars = [b'N'; 25];
    let mut i = 0;
    while i < KEY_ALPHABET.len() {
        chars[i] = KEY_ALPHABET[i];
        i += 1;
    }
    chars
}

/// True for an upper-case character a key is written with ([`KEY_CHARS`]); callers that
/// accept lower case upper-case the byte first.
pub const fn is_key_char(byte: u8) -> bool {
    let mut i = 0;
    while i < KEY_CHARS.len() {
        if KEY_CHARS[i] == byte {
            return true;
        }
        i += 1;
    }
    false
}

const NORMALISED_LEN: usize = 29;
const CHECKSUM_SHIFT: u32 = 103;
const CHECKSUM_MASK: u128 = 0x3FF;

/// Why a string is not a product key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyParseError {
    /// Neither 25 nor 29 bytes long; the field holds the length in characters.
    #[error("a product key has 25 characters (29 with dashes), this has {0}")]
    Length(usize),
    /// 29 bytes long, but not five groups of five separated by `-`.
    #[error("dashes must separate five groups of five characters")]
    Dashes,
    /// A symbol outside the product-key alphabet.
    #[error("character {position} is not in the product-key alphabet")]
    Alphabet {
        /// The 0-based byte offset of the offending symbol in the text.
        position: usize,
    },
    /// More than one `N`; the field holds how many.
    #[error("a product key holds at most one 'N', this has {0}")]
    TooManyN(usize),
}

/// Which generation of key encoding a key uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyForm {
    /// Windows 8 / Server 2012 / Office 2013 and later: exactly one `N`, checksummed.
    Pkey2009,
    /// Older keys without `N`: no offline integrity check is known.
    Legacy,
}

/// The verdict of the 10-bit checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Checksum {
    /// A post-2009 key whose stored checksum matches its CRC.
    Valid,
    /// A post-2009 key whose stored checksum does not match: mistyped or made up.
    Invalid,
    /// A legacy key, which carries no checksum.
    NotApplicable,
}

impl Checksum {
    /// The name used in reports, e.g. `not-applicable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Checksum::Valid => "valid",
            Checksum::Invalid => "invalid",
            Checksum::NotApplicable => "not-applicable",
        }
    }
}

/// The bit fields of a post-2009 key (key-format.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedKey {
    /// The whole key integer the symbols encode.
    pub value: u128,
    /// Bits 0-19: the key group, a pkeyconfig `RefGroupId`.
    pub group: u32,
    /// Bits 20-49: the serial number within the group.
    pub serial: u32,
    /// Bits 50-102: the security value, which cannot be checked offline.
    pub security: u64,
    /// Bits 103-112: the stored 10-bit checksum.
    pub checksum: u16,
    /// Bit 113: the upgrade bit.
    pub upgrade: bool,
    /// Bit 114: the encoding's "extra" bit; "twin" keys differ only in it.
    pub extra: bool,
}

/// A product key in its normalised form (upper case, with dashes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductKey {
    normalised: String,
}

impl ProductKey {
    /// Parses five dashed groups of five symbols (29 characters) or the 25-character form without dashes,
    /// in either case.
    ///
    /// # Errors
    ///
    /// A [`KeyParseError`] when `text` is not 25 or 29 bytes long, its dashes are misplaced, a
    /// symbol is outside the key alphabet, or it holds more than one `N`.
    pub fn parse(text: &str) -> Result<ProductKey, KeyParseError> {
        let bytes = text.as_bytes();
        let mut symbols = Vec::with_capacity(25);
        match bytes.len() {
            29 => {
                for (i, &b) in bytes.iter().enumerate() {
                    if i % 6 == 5 {
                        if b != b'-' {
                            return Err(KeyParseError::Dashes);
                        }
                    } else {
                        symbols.push((i, b));
                    }
                }
            }
            25 => symbols.extend(bytes.iter().copied().enumerate()),
            _ => return Err(KeyParseError::Length(text.chars().count())),
        }
        let mut normalised = String::with_capacity(NORMALISED_LEN);
        let mut n_count = 0;
        for (n, (position, b)) in symbols.into_iter().enumerate() {
            let upper = b.to_ascii_uppercase();
            if upper == b'N' {
                n_count += 1;
            } else if !is_key_char(upper) {
                return Err(KeyParseError::Alphabet { position });
            }
            if n > 0 && n % 5 == 0 {
                normalised.push('-');
            }
            normalised.push(upper as char);
        }
        if n_count > 1 {
            return Err(KeyParseError::TooManyN(n_count));
        }
        Ok(ProductKey { normalised })
    }

    /// Builds the key whose post-2009 integer is `value`; `None` if the `N` position it
    /// encodes is out of range.
    pub fn from_pkey2009_value(value: u128) -> Option<ProductKey> {
        let digits = base24_digits(value)?;
        let position = usize::from(digits[0]);
        if position > 24 {
            return None;
        }
        let mut letters: Vec<u8> = digits[1..].iter().map(|&d| KEY_ALPHABET[usize::from(d)]).collect();
        letters.insert(position, b'N');
        Some(Self::from_symbols(&letters))
    }

    /// Builds a pre-2009 key whose 25 base-24 digits are `value`.
    pub fn from_legacy_value(value: u128) -> Option<ProductKey> {
        let digits = base24_digits(value)?;
        let letters: Vec<u8> = digits.iter().map(|&d| KEY_ALPHABET[usize::from(d)]).collect();
        Some(Self::from_symbols(&letters))
    }

    fn from_symbols(symbols: &[u8]) -> ProductKey {
        let mut normalised = String::with_capacity(NORMALISED_LEN);
        for (n, &b) in symbols.iter().enumerate() {
            if n > 0 && n % 5 == 0 {
                normalised.push('-');
            }
            normalised.push(b as char);
        }
        ProductKey { normalised }
    }

    /// The encoding generation: post-2009 when the key holds an `N`.
    pub fn form(&self) -> KeyForm {
        if self.normalised.contains('N') {
            KeyForm::Pkey2009
        } else {
            KeyForm::Legacy
        }
    }

    fn symbols(&self) -> impl Iterator<Item = u8> + '_ {
        self.normalised.bytes().filter(|&b| b != b'-')
    }

    /// Decodes a post-2009 key into its fields; `None` for legacy keys.
    pub fn decode(&self) -> Option<DecodedKey> {
        if self.form() != KeyForm::Pkey2009 {
            return None;
        }
        let symbols: Vec<u8> = self.symbols().collect();
        let position = symbols.iter().position(|&b| b == b'N')?;
        let mut value: u128 = position as u128;
        for &b in symbols.iter().filter(|&&b| b != b'N') {
            let digit = KEY_ALPHABET.iter().position(|&a| a == b)? as u128;
            value = value * 24 + digit;
        }
        Some(DecodedKey {
            value,
            group: (value & 0xF_FFFF) as u32,
            serial: ((value >> 20) & 0x3FFF_FFFF) as u32,
            security: ((value >> 50) & ((1u128 << 53) - 1)) as u64,
            checksum: ((value >> CHECKSUM_SHIFT) & CHECKSUM_MASK) as u16,
            upgrade: (value >> 113) & 1 == 1,
            extra: (value >> 114) & 1 == 1,
        })
    }

    /// The checksum verdict: post-2009 keys are checked, legacy keys cannot be.
    pub fn checksum(&self) -> Checksum {
        match self.decode() {
            None => Checksum::NotApplicable,
            Some(decoded) if decoded.checksum == checksum_of(decoded.value) => Checksum::Valid,
            Some(_) => Checksum::Invalid,
        }
    }

    /// True when this key is one of Microsoft's public KMS client setup keys.
    pub fn is_gvlk(&self) -> bool {
        catalog::lookup_key(self).is_some()
    }

    /// `*****-*****-*****-*****-ABCDE`: the last group only, as Windows shows a partial key.
    pub fn masked(&self) -> String {
        format!("*****-*****-*****-*****-{}", &self.normalised[24..])
    }

    /// The last group, for messages that already say the rest is hidden.
    pub fn last_group(&self) -> &str {
        &self.normalised[24..]
    }

    /// `sha256:` and the lower-case hex SHA-256 of the normalised 29-character form.
    /// This definition is a contract: policy files and CI systems store it.
    pub fn fingerprint(&self) -> String {
        fingerprint_of_normalised(&self.normalised)
    }

    /// The key as it may be shown: in full for a GVLK, masked otherwise.
    pub fn display_form(&self) -> String {
        if self.is_gvlk() {
            self.normalised.clone()
        } else {
            self.masked()
        }
    }

    /// The full key text, secret or not. Only `--show-keys` may print this.
    pub fn reveal_unmasked(&self) -> &str {
        &self.normalised
    }
}

/// True when the token at `start..end` of `text` stands alone: no letter, digit or `_` runs
/// into it on either side, and no `-` that continues a longer dashed run (so a six-group,
/// GUID-like run is not a key, but `<!--KEY` is).
pub fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let joins = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let (Some(head), Some(tail)) = (text.get(..start), text.get(end..)) else {
        return false;
    };
    let mut before = head.chars().rev();
    let mut after = tail.chars();
    let (b1, b2) = (before.next(), before.next());
    let (a1, a2) = (after.next(), after.next());
    !(joins(b1) || joins(a1) || (b1 == Some('-') && joins(b2)) || (a1 == Some('-') && joins(a2)))
}

/// True for a byte that may stand in a key token (symbols are checked by [`ProductKey::parse`]).
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// The key-shaped token at byte `start` of `text`, as (bytes it spans, its symbols and dashes).
///
/// The token's characters are `stride` bytes apart: 1 for plain text, 2 for a UTF-16 key
/// whose zero bytes became NUL characters (a file name or a quoted binary string). A dashed
/// token counts wherever it stands (masking must not depend on what touches a key); a bare
/// 25-character token counts when it stands alone, or when it is a post-2009 key whose
/// checksum validates (long letter-and-digit runs, such as hex digests, are not keys, but a
/// checksummed key glued to other text is one).
fn key_token_at(text: &str, start: usize, stride: usize) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    if !text.is_char_boundary(start) || !bytes.get(start).copied().is_some_and(token_byte) {
        return None;
    }
    [29usize, 25].into_iter().find_map(|len| {
        let span = (len - 1) * stride + 1;
        let chars = bytes.get(start..start + span)?;
        // The shape is checked before anything is allocated: this runs at every symbol of
        // every name and message makguard masks, and almost never matches.
        let shaped = chars.chunks(stride).enumerate().all(|(i, chunk)| {
            let b = chunk[0];
            let symbol = if len == 29 && i % 6 == 5 {
                b == b'-'
            } else {
                token_byte(b)
            };
            symbol && chunk[1..].iter().all(|&z| z == 0)
        });
        if !shaped {
            return None;
        }
        let token: String = chars.chunks(stride).map(|chunk| char::from(chunk[0])).collect();
        let stands = len == 29
            || (stride == 1 && stands_alone(text, start, start + span))
            || ProductKey::parse(&token).is_ok_and(|k| k.checksum() == Checksum::Valid);
        stands.then_some((span, token))
    })
}

/// A key [`keys_in`] found: where it is and how it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInText {
    /// The byte range the key spans in the text (NUL characters included for UTF-16).
    pub start: usize,
    /// The byte offset just past the key's last byte.
    pub end: usize,
    /// The key, normalised.
    pub key: ProductKey,
    /// Written with dashes.
    pub dashed: bool,
}

/// Every non-GVLK key in `text` that [`mask_keys_in`] masks, in order: any dashed key
/// wherever it stands, any bare 25-character key standing alone or whose checksum validates,
/// in any case, and the same keys spelled as UTF-16 with NUL characters between their symbols.
pub fn keys_in(text: &str) -> Vec<KeyInText> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let key = [1usize, 2].into_iter().find_map(|stride| {
            let (span, token) = key_token_at(text, at, stride)?;
            let key = ProductKey::parse(&token).ok()?;
            (!key.is_gvlk()).then_some((span, key, token.len() == 29))
        });
        match key {
            Some((span, key, dashed)) => {
                found.push(KeyInText {
                    start: at,
                    end: at + span,
                    key,
                    dashed,
                });
                at += span;
            }
            None => at += 1,
        }
    }
    found
}

/// `text` with every non-GVLK key masked to its last group: THE masking step every output
/// of makguard passes (reports, diagnostics, diffs, change logs, the policy file `allow`
/// writes). It masks what [`keys_in`] finds; GVLKs stay readable.
pub fn mask_keys_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for found in keys_in(text) {
        out.push_str(&text[copied..found.start]);
        out.push_str(&found.key.masked());
        copied = found.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The fingerprint of an already normalised key text.
fn fingerprint_of_normalised(normalised: &str) -> String {
    let digest = Sha256::digest(normalised.as_bytes());
    format!("sha256:{}", crate::hex::encode(&digest))
}

impl fmt::Display for ProductKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_form())
    }
}

impl fmt::Debug for ProductKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProductKey({})", self.display_form())
    }
}

/// The 10-bit checksum of a key integer: CRC-32/BZIP2 over its 16 little-endian bytes with
/// the checksum bits cleared, complemented, low ten bits (key-format.md §4).
pub fn checksum_of(value: u128) -> u16 {
    let cleared = value & !(CHECKSUM_MASK << CHECKSUM_SHIFT);
    let mut crc: u32 = 0xFFFF_FFFF;
    for byte in cleared.to_le_bytes() {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    ((!crc) & 0x3FF) as u16
}

/// Sets the checksum bits of `value` to their correct value.
pub fn with_valid_checksum(value: u128) -> u128 {
    let cleared = value & !(CHECKSUM_MASK << CHECKSUM_SHIFT);
    cleared | (u128::from(checksum_of(cleared)) << CHECKSUM_SHIFT)
}

/// Builds a post-2009 key integer from its fields, with a valid checksum.
pub fn compose_pkey2009(group: u32, serial: u32, security: u64, upgrade: bool) -> u128 {
    let value = u128::from(group & 0xF_FFFF)
        | (u128::from(serial & 0x3FFF_FFFF) << 20)
        | (u128::from(security & ((1u64 << 53) - 1)) << 50)
        | (u128::from(upgrade) << 113);
    with_valid_checksum(value)
}

fn base24_digits(mut value: u128) -> Option<[u8; 25]> {
    let mut digits = [0u8; 25];
    for slot in digits.iter_mut().rev() {
        *slot = (value % 24) as u8;
        value /= 24;
    }
    if value != 0 {
        return None;
    }
    Some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTERPRISE_GVLK: &str = "NPPR9-FWDCX-D2C8J-H872K-2YT43";
    const SYNTHETIC_MAK: &str = "6QWQ4-8NRCW-KHGHV-CR226-3PPQC";

    #[test]
    fn key_chars_are_the_alphabet_and_n_upper_case() {
        assert_eq!(KEY_CHARS.len(), 25);
        for byte in 0..=u8::MAX {
            let expected = KEY_ALPHABET.contains(&byte) || byte == b'N';
            assert_eq!(is_key_char(byte), expected, "{byte:#x}");
        }
        assert!(!is_key_char(b'b') && !is_key_char(b'A') && !is_key_char(b'0'));
    }

    #[test]
    fn parses_both_forms_and_normalises_case() {
        let dashed = ProductKey::parse(&ENTERPRISE_GVLK.to_lowercase()).unwrap();
        let bare = ProductKey::parse(&ENTERPRISE_GVLK.replace('-', "")).unwrap();
        assert_eq!(dashed, bare);
        assert_eq!(dashed.reveal_unmasked(), ENTERPRISE_GVLK);
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(ProductKey::parse("ABC"), Err(KeyParseError::Length(3)));
        assert_eq!(
            ProductKey::parse("NPPR9FWDCX-D2C8J-H872K-2YT43X"),
            Err(KeyParseError::Dashes)
        );
        assert!(matches!(
            ProductKey::parse("NPPR9-FWDCX-D2C8J-H872K-2YT4A"),
            Err(KeyParseError::Alphabet { position: 28 })
        ));
        assert_eq!(
            ProductKey::parse("NNPR9-FWDCX-D2C8J-H872K-2YT43"),
            Err(KeyParseError::TooManyN(2))
        );
    }

    #[test]
    fn enterprise_gvlk_decodes_to_group_3290() {
        let key = ProductKey::parse(ENTERPRISE_GVLK).unwrap();
        let decoded = key.decode().unwrap();
        assert_eq!(decoded.group, 3290);
        assert_eq!(key.checksum(), Checksum::Valid);
        assert!(!decoded.upgrade);
    }

    #[test]
    fn twin_keys_share_fields_and_differ_in_extra_bit() {
        // The "extra" bit (114) is an encoding artefact: a key and its twin decode to the same
        // group, serial and security value, and both pass the checksum.
        let key = ProductKey::parse(SYNTHETIC_MAK).unwrap();
        let value = key.decode().unwrap().value;
        let twin = ProductKey::from_pkey2009_value(with_valid_checksum(value ^ (1u128 << 114))).unwrap();
        let (da, db) = (key.decode().unwrap(), twin.decode().unwrap());
        assert_ne!(key, twin);
        assert_eq!((da.group, da.serial, da.security), (db.group, db.serial, db.security));
        assert_ne!(da.extra, db.extra);
        assert_eq!(twin.checksum(), Checksum::Valid);
    }

    #[test]
    fn non_gvlk_is_masked_in_display_and_debug() {
        let key = ProductKey::parse(SYNTHETIC_MAK).unwrap();
        assert_eq!(key.to_string(), "*****-*****-*****-*****-3PPQC");
        assert!(!format!("{key:?}").contains("6QWQ4"));
        let gvlk = ProductKey::parse(ENTERPRISE_GVLK).unwrap();
        assert_eq!(gvlk.to_string(), ENTERPRISE_GVLK);
    }

    #[test]
    fn keys_in_quoted_text_are_masked() {
        let bare = SYNTHETIC_MAK.replace('-', "").to_lowercase();
        let text = format!("expected `</a>`, found `</{SYNTHETIC_MAK}>` or {bare}; {ENTERPRISE_GVLK} stays");
        let masked = mask_keys_in(&text);
        assert_eq!(
            masked,
            format!(
                "expected `</a>`, found `</*****-*****-*****-*****-3PPQC>` or *****-*****-*****-*****-3PPQC; {ENTERPRISE_GVLK} stays"
            )
        );
        // Whatever touches a dashed key, it is masked: `<!--KEY-->`, letters, a longer run.
        assert_eq!(
            mask_keys_in(&format!("<!--{SYNTHETIC_MAK}-->")),
            "<!--*****-*****-*****-*****-3PPQC-->"
        );
        assert_eq!(
            mask_keys_in(&format!("é{SYNTHETIC_MAK}é")),
            "é*****-*****-*****-*****-3PPQCé"
        );
        assert!(!mask_keys_in(&format!("BCDFG-{SYNTHETIC_MAK}-BCDFG")).contains(SYNTHETIC_MAK));
        // A bare run inside a longer run of letters and digits (a digest) is not a key, unless
        // it is a checksummed key: then it is one whatever touches it.
        let digest = "aBCDFGHJKMPQRTVWXY234678990";
        assert_eq!(mask_keys_in(digest), digest);
        let glued = format!("a{}0", SYNTHETIC_MAK.replace('-', ""));
        assert_eq!(mask_keys_in(&glued), "a*****-*****-*****-*****-3PPQC0");
    }

    #[test]
    fn every_spelling_of_a_key_is_masked() {
        let bare = SYNTHETIC_MAK.replace('-', "");
        let utf16 = |t: &str| t.chars().flat_map(|c| [c, '\0']).collect::<String>();
        let spellings = [
            SYNTHETIC_MAK.to_string(),
            SYNTHETIC_MAK.to_lowercase(),
            bare.clone(),
            bare.to_lowercase(),
            "6qWq4-8nRcW-KhGhV-cR226-3pPqC".to_string(),
            utf16(SYNTHETIC_MAK),
            utf16(&bare),
            format!("\0{}", utf16(SYNTHETIC_MAK)),
        ];
        let contexts = ["{}", "x{}y", "dir/{}/unattend.xml", "{}_backup", "9{}9", "\u{1b}[1m{}"];
        for spelling in &spellings {
            for context in contexts {
                let text = context.replace("{}", spelling);
                let masked = mask_keys_in(&text);
                let plain: String = masked.chars().filter(|&c| c != '\0').collect::<String>().to_uppercase();
                assert!(!plain.contains(&bare[..20]), "{text:?} -> {masked:?}");
                assert!(!plain.contains("6QWQ4-8NRCW"), "{text:?} -> {masked:?}");
                assert!(masked.contains("3PPQC"), "{text:?} -> {masked:?}");
            }
        }
        // GVLKs stay readable in every spelling.
        for gvlk in [ENTERPRISE_GVLK.to_string(), ENTERPRISE_GVLK.replace('-', "")] {
            assert_eq!(mask_keys_in(&format!("a/{gvlk}/b")), format!("a/{gvlk}/b"));
        }
    }

    #[test]
    fn fingerprint_is_sha256_of_normalised_form() {
        let key = ProductKey::parse(&SYNTHETIC_MAK.to_lowercase().replace('-', "")).unwrap();
        let expected = fingerprint_of_normalised(SYNTHETIC_MAK);
        assert_eq!(key.fingerprint(), expected);
        assert!(expected.starts_with("sha256:"));
        assert_eq!(expected.len(), 7 + 64);
    }

    #[test]
    fn pkey2009_value_round_trips() {
        let key = ProductKey::parse(SYNTHETIC_MAK).unwrap();
        let decoded = key.decode().unwrap();
        assert_eq!(decoded.group, 990001);
        assert_eq!(decoded.serial, 815965);
        assert_eq!(ProductKey::from_pkey2009_value(decoded.value), Some(key));
    }

    #[test]
    fn composed_keys_validate() {
        let value = compose_pkey2009(990001, 42, 123_456_789, false);
        let key = ProductKey::from_pkey2009_value(value).unwrap();
        assert_eq!(key.checksum(), Checksum::Valid);
        assert_eq!(key.decode().unwrap().serial, 42);
    }
}
