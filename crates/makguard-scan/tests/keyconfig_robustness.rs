//! The pkeyconfig parser never panics: truncated, bit-flipped and random inputs give a typed
//! error or a (possibly smaller) index.

use makguard_scan::testing::{decode_base64, parse_key_config};
use proptest::prelude::*;

const FIXTURE: &[u8] = include_bytes!("fixtures/pkeyconfig/pkeyconfig.xrm-ms");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn truncated_fixture_never_panics(len in 0usize..FIXTURE.len()) {
        // Cut inside the payload or the wrapper: the file is never whole, so never Ok with all groups.
        let result = parse_key_config(&FIXTURE[..len], "t");
        prop_assert!(result.map(|index| index.len() < 5).unwrap_or(true));
    }

    #[test]
    fn bit_flipped_fixture_never_panics(position in 0usize..FIXTURE.len(), bit in 0u8..8) {
        let mut bytes = FIXTURE.to_vec();
        bytes[position] ^= 1 << bit;
        let _ = parse_key_config(&bytes, "t");
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_key_config(text.as_bytes(), "t");
        let _ = decode_base64(&text);
    }
}
